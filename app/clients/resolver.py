"""Name resolution for the HTTP clients that cannot stall anything else: lookups of one name share one thread.

getaddrinfo blocks (about 10 s per query against a resolver that drops packets) and cannot be cancelled. With
aiohttp's default resolver every lookup takes a thread of the loop's default executor, so a hung resolver soon
holds all of them and every other lookup, check and /metrics render queues behind. Here each client has its own
small pool, a lookup already in flight for a name is joined instead of repeated, and answers are kept briefly.
A check's own deadline still bounds its wait: cancelling the waiter leaves the shared lookup to finish alone.
The pool's threads are daemons: a lookup stuck in getaddrinfo never holds the process at exit (`vigil check`
would otherwise print its verdict and then wait out the resolver's timeouts before exiting).
"""

from __future__ import annotations

import asyncio
import ipaddress
import queue
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

from aiohttp.abc import AbstractResolver, ResolveResult

ANSWER_TTL = 10.0  # seconds an answer is reused; short, so a changed DNS record is followed promptly
_AI_ADDRCONFIG = getattr(socket, "AI_ADDRCONFIG", 0)

_Key = tuple[str, int, int]
_Infos = list[tuple[Any, ...]]
_P = ParamSpec("_P")
_T = TypeVar("_T")
_Job = tuple[Future[Any], Callable[[], Any]]


class DaemonPool(Executor):
    """At most `workers` daemon threads, started on demand, running submitted calls in order."""

    def __init__(self, workers: int, name: str) -> None:
        self._workers = workers
        self._name = name
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        # Threads done with a job and waiting for the next (as concurrent.futures counts them): a new job takes one
        # of them, else starts a thread. A thread not yet at its first job is busy, so no job waits while a worker
        # could still be started.
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs) -> Future[_T]:
        future: Future[_T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new lookups after shutdown")
            self._jobs.put((future, lambda: fn(*args, **kwargs)))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
        return future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, call = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(call())
                except BaseException as exc:  # handed to the waiter, as concurrent.futures does
                    future.set_exception(exc)
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    job = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if job is not None:
                    job[0].cancel()
        for _ in threads:
            self._jobs.put(None)
        if wait:
            for thread in threads:
                thread.join()


class SharedResolver(AbstractResolver):
    def __init__(self, workers: int = 2) -> None:
        self._executor = DaemonPool(workers, "vigil-resolve")
        self._inflight: dict[_Key, asyncio.Future[_Infos]] = {}
        self._answers: dict[_Key, tuple[float, _Infos]] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await self._lookup((host, port, int(family)))
        results: list[ResolveResult] = []
        for info_family, _, proto, _, address in infos:
            if info_family == socket.AF_INET6 and len(address) < 3:
                continue  # no IPv6 in this Python build
            results.append(
                ResolveResult(
                    hostname=host,
                    host=str(address[0]),
                    port=int(address[1]),
                    family=info_family,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise OSError(socket.EAI_NONAME, f"{host} has no usable address")
        return results

    async def _lookup(self, key: _Key) -> _Infos:
        host, port, family = key
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pass
        else:  # a literal address needs no lookup (and no thread)
            return socket.getaddrinfo(host, port, family, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
        cached = self._answers.get(key)
        if cached is not None and time.monotonic() - cached[0] < ANSWER_TTL:
            return cached[1]
        future = self._inflight.get(key)
        if future is None:
            loop = asyncio.get_running_loop()
            future = asyncio.ensure_future(
                loop.run_in_executor(
                    self._executor, socket.getaddrinfo, host, port, family, socket.SOCK_STREAM, 0, _AI_ADDRCONFIG
                )
            )
            self._inflight[key] = future
            future.add_done_callback(lambda done: self._settle(key, done))
        return await asyncio.shield(future)

    def looking_up(self, host: str) -> bool:
        """A lookup of `host` is in flight (asked, not answered): what a connect timeout may have waited on."""
        return any(key[0].lower() == host.lower() for key in self._inflight)

    def _settle(self, key: _Key, future: asyncio.Future[_Infos]) -> None:
        self._inflight.pop(key, None)
        if not future.cancelled() and future.exception() is None:
            self._answers[key] = (time.monotonic(), future.result())

    async def close(self) -> None:
        for future in self._inflight.values():
            future.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

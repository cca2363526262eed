"""The client of a Redis Cluster component: one bounded RedisClient per node, the topology found from the seeds.

Vigil talks to each node itself (the checks want node-level answers: INFO, SCAN, CLUSTER INFO) rather than through
redis-py's cluster client, which refuses to start while slots are uncovered (the failure a check must report) and
keeps an unbounded-wait-free pool of 100 connections per node. At most `max_nodes` nodes get a client, each a pool
of `max_connections`: one component never holds more than their product. Each node's work runs under a deadline
of its own, so a hung node is reported as such and never holds the others' answers back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from app.clients.errors import PoolExhausted
from app.clients.redis import RedisClient, RedisSettings
from app.clients.redis_errors import NodeSilent, RedisError, TooManyNodes, Unreachable
from app.clients.redis_topology import Topology, address_of, host_port

T = TypeVar("T")

TOPOLOGY_TTL = 1.0  # seconds a discovered topology serves the checks of one round before it is asked again
NodeError = RedisError | PoolExhausted


@dataclass(frozen=True, slots=True)
class ClusterSettings:
    seeds: tuple[str, ...]
    max_nodes: int
    tls: bool
    node: RedisSettings  # every node's connection settings; its url is replaced by the node's


class RedisClusterClient:
    """One cluster component's node clients, and the topology they were found by."""

    def __init__(self, settings: ClusterSettings) -> None:
        self.settings = settings
        self.nodes: dict[str, RedisClient] = {}
        self.topology: Topology | None = None
        self._found_at = -TOPOLOGY_TTL
        self._discovery: asyncio.Future[Topology] | None = None
        self._closing: set[asyncio.Future[None]] = set()  # clients of nodes that left the cluster

    @property
    def seeds(self) -> tuple[str, ...]:
        return self.settings.seeds

    @property
    def max_connections(self) -> int:
        """Per node."""
        return self.settings.node.max_connections

    def node(self, address: str) -> RedisClient:
        """The client of one node (made on first use: it connects lazily)."""
        if (client := self.nodes.get(address)) is None:
            if len(self.nodes) >= self.settings.max_nodes:
                raise TooManyNodes(len(self.nodes) + 1, self.settings.max_nodes)
            host, port = host_port(address)
            scheme = "rediss" if self.settings.tls else "redis"
            url = f"{scheme}://{address_of(host, port)}/0"
            client = self.nodes[address] = RedisClient(replace(self.settings.node, url=url))
        return client

    async def each(
        self, addresses: Sequence[str], work: Callable[[str, RedisClient], Awaitable[T]], deadline: float
    ) -> dict[str, T | NodeError]:
        """`work` on every node at once, each under `deadline` (loop time): its answer, or its error as a sentence.
        Errors that are not the client's (bugs) are raised."""
        loop = asyncio.get_running_loop()

        async def one(address: str) -> T | NodeError:
            started = loop.time()
            try:
                async with asyncio.timeout_at(deadline):
                    return await work(address, self.node(address))
            except TimeoutError:
                return NodeSilent(address, loop.time() - started)
            except (RedisError, PoolExhausted) as exc:
                return exc

        answers = await asyncio.gather(*(one(address) for address in addresses))
        return dict(zip(addresses, answers, strict=True))

    async def discover(self, deadline: float) -> Topology:
        """The topology, as the first node to answer CLUSTER NODES sees it (seeds and known nodes asked at once);
        kept for TOPOLOGY_TTL, one discovery shared by the checks that ask meanwhile."""
        loop = asyncio.get_running_loop()
        if self.topology is not None and loop.time() - self._found_at < TOPOLOGY_TTL:
            return self.topology
        if self._discovery is None or self._discovery.done():
            self._discovery = asyncio.ensure_future(self._ask_any(deadline))
            self._discovery.add_done_callback(_retrieved)  # its callers may all have been cancelled meanwhile
        return await asyncio.shield(self._discovery)

    async def _ask_any(self, deadline: float) -> Topology:
        candidates = list(dict.fromkeys([*self._known(), *self.seeds]))
        loop = asyncio.get_running_loop()
        pending = {asyncio.ensure_future(self._nodes_of(address, deadline)): address for address in candidates}
        errors: list[str] = []
        try:
            while pending:
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    pending.pop(task)
                    found = task.result()
                    if isinstance(found, Topology):
                        self.learn(found, loop.time())
                        return found
                    errors.append(str(found))
        finally:
            for task in pending:
                task.cancel()
        raise Unreachable(f"no node of the Redis cluster answered CLUSTER NODES: {'; '.join(errors)}")

    def _known(self) -> list[str]:
        """Known nodes, those not flagged failed first."""
        if self.topology is None:
            return []
        return [node.address for node in sorted(self.topology.nodes, key=lambda node: node.failed)]

    async def _nodes_of(self, address: str, deadline: float) -> Topology | NodeError:
        answer = (await self.each([address], lambda _, client: client.execute("CLUSTER", "NODES"), deadline))[address]
        if isinstance(answer, RedisError | PoolExhausted):
            return answer
        text = answer.decode(errors="replace") if isinstance(answer, bytes) else str(answer)
        topology = Topology.parse(address, text)
        if not topology.nodes:
            return Unreachable(f"Redis at {address} gave no cluster nodes: is it in cluster mode?")
        return topology

    def learn(self, topology: Topology, when: float | None = None) -> None:
        """Adopt a topology (the `cluster` check passes the freshest it saw); clients of nodes that left it (and are
        no seed) are closed."""
        self.topology = topology
        self._found_at = asyncio.get_running_loop().time() if when is None else when
        if len(topology.nodes) > self.settings.max_nodes:
            return  # node() refuses the extra ones, naming the limit
        keep = {*topology.addresses, *self.seeds}
        for address in [address for address in self.nodes if address not in keep]:
            closing = asyncio.ensure_future(self.nodes.pop(address).close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    def check_size(self, topology: Topology) -> None:
        if len(topology.nodes) > self.settings.max_nodes:
            raise TooManyNodes(len(topology.nodes), self.settings.max_nodes)

    async def close(self) -> None:
        if self._discovery is not None and not self._discovery.done():
            self._discovery.cancel()
        clients, self.nodes = list(self.nodes.values()), {}
        await asyncio.gather(*(client.close() for client in clients), *self._closing, return_exceptions=True)


def _retrieved(future: asyncio.Future[Topology]) -> None:
    if not future.cancelled():
        future.exception()

"""The status page's document cache: /status.json built once per store version, history slot and detail level,
encoded once, and shared by every poller (the app's one lives in `Services`)."""

from __future__ import annotations

import gzip
import secrets
import time
from dataclasses import dataclass, field

from app.api.details import Details
from app.api.turns import Turns
from app.config.settings import Settings
from app.engine.history import SLOT
from app.engine.singleflight import SingleFlight
from app.engine.slices import in_slices
from app.engine.store import Store
from app.views.report import encode
from app.views.statusview import RowMemo, build


@dataclass(slots=True)
class Rendered:
    """One encoded document and the key it was built for."""

    key: tuple[int, int]  # (store version, history slot)
    body: bytes
    etag: str
    _gzipped: bytes | None = None

    def gzipped(self) -> bytes:
        if self._gzipped is None:
            self._gzipped = gzip.compress(self.body, compresslevel=5, mtime=0)
        return self._gzipped


@dataclass
class StatusCache:
    """Per app (in `Services`): the last document per detail level, the build in flight per detail level
    (pollers arriving meanwhile wait for it), and the per-check row memo."""

    memo: RowMemo = field(default_factory=RowMemo)
    instance: str = field(default_factory=lambda: secrets.token_hex(4))  # in ETags: a restarted Vigil starts at 0
    builds: int = 0  # documents built so far (tests read it)
    _docs: dict[bool, Rendered] = field(default_factory=dict)
    _flights: dict[bool, SingleFlight[Rendered]] = field(default_factory=dict)

    @staticmethod
    def key(store: Store, now: float) -> tuple[int, int]:
        # The slot too: availability windows and bar cells move with time even when no result arrives.
        return store.version, int(now // SLOT)

    def current(self, store: Store, details: bool, now: float) -> Rendered | None:
        hit = self._docs.get(details)
        return hit if hit is not None and hit.key == self.key(store, now) else None

    async def get(self, store: Store, settings: Settings, details: Details, turns: Turns) -> Rendered:
        """The current document, built at most once per key whoever asks; concurrent askers share one build."""
        hit = self.current(store, details.shown, time.time())
        if hit is not None:
            return hit
        flight = self._flights.setdefault(details.shown, SingleFlight())
        return await flight.do(lambda: self._refresh(store, settings, details, turns))

    async def _refresh(self, store: Store, settings: Settings, details: Details, turns: Turns) -> Rendered:
        # Rows of checks that changed are computed a slice at a time, yielding in between, so a large store (or a
        # new history slot, when every availability is read again) never holds check replies and probes back.
        async for state in in_slices(list(store.states.values())):
            self.memo.row(state, time.time(), details=details.shown)
        # Then the document in one go, consistent with one store version (rows that changed meanwhile are redone).
        async with turns.turn():
            now = time.time()
            return self.current(store, details.shown, now) or self.render(store, settings, details, now)

    def render(self, store: Store, settings: Settings, details: Details, now: float) -> Rendered:
        key = self.key(store, now)
        document = build(
            store,
            now,
            details=details.shown,
            details_note=details.note,
            memo=self.memo,
            runs_enabled=settings.auth is not None,
            show_details=settings.server.show_details,
        )
        body = encode(document).encode()
        rendered = Rendered(key, body, f'"{self.instance}-{key[0]}-{key[1]}-{"d" if details.shown else "s"}"')
        self._docs[details.shown] = rendered
        self.builds += 1
        return rendered

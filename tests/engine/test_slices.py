from __future__ import annotations

import asyncio

import pytest

from app.engine import slices
from app.engine.slices import in_slices


async def between(items: list[int], budget: float | None) -> tuple[list[int], list[int]]:
    """(items seen, how many items had been seen each time a callback queued before the loop got a turn ran)."""
    seen: list[int] = []
    turns: list[int] = []
    loop = asyncio.get_running_loop()

    def tick() -> None:
        turns.append(len(seen))
        if len(seen) < len(items):
            loop.call_soon(tick)

    loop.call_soon(tick)
    async for item in in_slices(items, budget):
        seen.append(item)
    return seen, turns


async def test_every_item_comes_in_order_and_the_loop_runs_between_slices() -> None:
    seen, turns = await between(list(range(20)), 0.0)  # a budget spent by every item: a turn after each
    assert seen == list(range(20))
    assert turns[:3] == [1, 2, 3]


async def test_within_its_budget_a_read_keeps_the_loop() -> None:
    seen, turns = await between(list(range(20)), 3600.0)
    assert seen == list(range(20))
    assert turns == []  # nothing else ran before the last item


async def test_the_default_budget_is_the_module_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(slices, "SLICE", 0.0)
    _, turns = await between([1, 2, 3], None)
    assert turns[:2] == [1, 2]

"""How the `sentinel` check reads and judges what each Sentinel says about one master.

Pure: each Sentinel's replies (or why it gave none) in, findings and sentences out, so every verdict is tested
without a server. Sentinel keeps no failover history: the check follows the primary's address between runs in its
memo (FailoverMemo), so it sees the failovers that happen while this Vigil runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app import units
from app.checks.judging import Finding
from app.checks.redis.sentinel_config import RedisSentinel
from app.checks.redis.server import as_int, as_text
from app.model import Status

DOWN_FLAGS = ("s_down", "o_down", "disconnected")


def _address(state: dict[str, Any]) -> str:
    host, port = as_text(state.get("ip", "?")), as_text(state.get("port", "?"))
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _flags(state: dict[str, Any]) -> set[str]:
    flags = state.get("flags", "")
    return set(flags) if isinstance(flags, set | frozenset) else set(as_text(flags).split(","))


@dataclass(frozen=True, slots=True)
class SentinelView:
    """What one Sentinel says about the master: its primary's address and state, its replicas, CKQUORUM."""

    sentinel: str  # the Sentinel's address
    error: str | None = None  # why it gave no usable answer (unreachable, does not monitor the master)
    primary: str | None = None
    primary_down: tuple[str, ...] = ()  # the down flags it sets on the primary
    quorum: int | None = None
    epoch: int | None = None  # config-epoch: grows with every failover
    replicas_up: tuple[str, ...] = ()
    replicas_down: tuple[str, ...] = ()  # `address (flags)`
    noquorum: str | None = None  # CKQUORUM's refusal, when it refused

    @classmethod
    def from_replies(cls, sentinel: str, master: str, replies: Sequence[Any]) -> SentinelView:
        state, replicas, ckquorum = (list(replies) + [None, None, None])[:3]
        if isinstance(state, Exception) or not isinstance(state, dict):
            return cls(sentinel, error=f"Sentinel at {sentinel} does not answer for {master}: {state}")
        up: list[str] = []
        down: list[str] = []
        for replica in replicas if isinstance(replicas, list) else []:
            flags = _flags(replica) & set(DOWN_FLAGS)
            (down if flags else up).append(
                f"{_address(replica)} ({','.join(sorted(flags))})" if flags else _address(replica)
            )
        return cls(
            sentinel,
            primary=_address(state),
            primary_down=tuple(sorted(_flags(state) & set(DOWN_FLAGS))),
            quorum=as_int(state.get("quorum")),
            epoch=as_int(state.get("config-epoch")),
            replicas_up=tuple(sorted(up)),
            replicas_down=tuple(sorted(down)),
            noquorum=str(ckquorum) if isinstance(ckquorum, Exception) else None,
        )


@dataclass(slots=True)
class FailoverMemo:
    """The primary seen on the last run that found one agreed, and the last failover seen (old, new, when)."""

    primary: str | None = None
    failover: tuple[str, str, float] | None = None  # old primary, new primary, wall time first seen


def follow(memo: FailoverMemo, primary: str | None, now: float) -> None:
    """Remember the agreed primary; a different one than last run's is a failover."""
    if primary is None:
        return
    if memo.primary is not None and memo.primary != primary:
        memo.failover = (memo.primary, primary, now)
    memo.primary = primary


def agreed_primary(views: Sequence[SentinelView]) -> str | None:
    """The primary every Sentinel that answered names; None when they disagree or none answered."""
    named = {view.primary for view in views if view.error is None}
    return named.pop() if len(named) == 1 else None


def findings(
    master: str, views: Sequence[SentinelView], options: RedisSentinel, memo: FailoverMemo, now: float
) -> list[Finding]:
    answered = [view for view in views if view.error is None]
    unreachable = [view.error for view in views if view.error is not None]
    causes = "; ".join(unreachable)
    found: list[Finding] = []
    if not answered:
        return [(Status.FAIL, f"no Sentinel of {master} answered: {causes}")]
    quorum = max((view.quorum for view in answered if view.quorum is not None), default=None)
    total = len(views)
    if quorum is not None and len(answered) < quorum:
        found.append(
            (
                Status.FAIL,
                f"only {len(answered)} of {total} Sentinels of {master} answered, fewer than its quorum of {quorum}: "
                "no failover can be authorised; " + (causes or "list every Sentinel in sentinel.addresses"),
            )
        )
    else:
        if unreachable:
            found.append(
                (
                    Status.WARN,
                    f"{len(unreachable)} of {total} Sentinels of {master} unreachable: {causes}",
                )
            )
        for view in answered:
            if view.noquorum is not None:
                found.append(
                    (
                        Status.FAIL,
                        f"Sentinel at {view.sentinel} cannot authorise a failover of {master}: {view.noquorum}",
                    )
                )
    primary = agreed_primary(answered)
    if primary is None:
        groups: dict[str, list[str]] = {}
        for view in answered:
            groups.setdefault(str(view.primary), []).append(view.sentinel)
        said = ", ".join(f"{address} (by {', '.join(names)})" for address, names in sorted(groups.items()))
        found.append((Status.FAIL, f"the Sentinels of {master} disagree on its primary: {said}"))
    else:
        found.extend(_primary_findings(master, primary, answered, options))
    follow(memo, primary, now)
    if memo.failover is not None:
        old, new, at = memo.failover
        age = max(0.0, now - at)
        if age < options.recent_failover:
            found.append(
                (Status.WARN, f"failover {units.age(age)} ago: the primary of {master} moved from {old} to {new}")
            )
    return found


def _primary_findings(
    master: str, primary: str, answered: Sequence[SentinelView], options: RedisSentinel
) -> list[Finding]:
    found: list[Finding] = []
    down = sorted({flag for view in answered for flag in view.primary_down})
    if down:
        status = Status.FAIL if "o_down" in down else Status.WARN
        found.append((status, f"the primary of {master}, {primary}, is seen down ({', '.join(down)})"))
    view = max(answered, key=lambda v: v.epoch or 0)  # the Sentinel with the newest configuration
    if len(view.replicas_up) < options.replicas_required:
        missing = f"; down: {', '.join(view.replicas_down)}" if view.replicas_down else ""
        found.append(
            (
                Status.WARN,
                f"the primary of {master}, {primary}, has {units.plural(len(view.replicas_up), 'replica')} up, "
                f"{options.replicas_required} required{missing}",
            )
        )
    return found


def summary(master: str, views: Sequence[SentinelView]) -> str:
    answered = [view for view in views if view.error is None]
    primary = agreed_primary(answered) or "?"
    replicas = max((len(view.replicas_up) for view in answered), default=0)
    quorum = max((view.quorum or 0 for view in answered), default=0)
    return (
        f"{len(answered)} of {len(views)} Sentinels (quorum {quorum}) agree: the primary of {master} is {primary}, "
        f"with {units.plural(replicas, 'replica')} up"
    )

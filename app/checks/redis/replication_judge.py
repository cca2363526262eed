"""How the `replication` check reads and judges INFO replication: a replica's link to its primary, a primary's replicas.

Pure: INFO fields in, findings and sentences out, so every threshold and wording is tested without a server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app import units
from app.checks.judging import Finding, threshold
from app.checks.redis.config import RedisReplication
from app.checks.redis.server import Info, as_int, as_text, primary_address
from app.model import Status


def _seconds(value: Any) -> int | None:
    """A seconds field of INFO; Redis writes -1 for "not known" (never connected, link down)."""
    seconds = as_int(value)
    return None if seconds is None or seconds < 0 else seconds


@dataclass(frozen=True, slots=True)
class PrimaryLink:
    """A replica's link to its primary, as the replica reports it.

    A replica only knows its own offsets: `received` (slave_read_repl_offset, the furthest point of the primary's
    stream it has read) and `applied` (slave_repl_offset). How far it is behind the primary's latest writes is only
    known on the primary (see Replicas); here, the lag is what it received and has not applied yet.
    """

    primary: str  # host:port
    up: bool  # master_link_status:up
    syncing: bool  # master_sync_in_progress:1 (a full sync: the dataset is being replaced)
    last_io: int | None  # seconds since the last I/O with the primary; None: the link never came up
    received: int | None
    applied: int | None

    @classmethod
    def from_info(cls, replication: Info) -> PrimaryLink:
        up = as_text(replication.get("master_link_status", "")) == "up"
        syncing = as_int(replication.get("master_sync_in_progress")) == 1
        if up:
            last_io = _seconds(replication.get("master_last_io_seconds_ago"))
        elif syncing:
            last_io = _seconds(replication.get("master_sync_last_io_seconds_ago"))
        else:  # while the link is down, the last I/O was when it went down
            last_io = _seconds(replication.get("master_link_down_since_seconds"))
        return cls(
            primary=primary_address(replication),
            up=up,
            syncing=syncing,
            last_io=last_io,
            received=as_int(replication.get("slave_read_repl_offset")),  # Redis 7.0+
            applied=as_int(replication.get("slave_repl_offset")),
        )

    @property
    def lag_bytes(self) -> int | None:
        """Bytes received from the primary and not applied yet; None before Redis 7.0 (no slave_read_repl_offset)."""
        if self.received is None or self.applied is None:
            return None
        return max(0, self.received - self.applied)


@dataclass(frozen=True, slots=True)
class ReplicaLink:
    """One replica as its primary sees it: a `slaveN:ip=…,port=…,state=…,offset=…,lag=…` line."""

    name: str  # ip:port
    state: str  # online, or wait_bgsave / send_bulk while a full sync is under way
    offset: int | None  # the replica's acknowledged offset
    ack_age: int | None  # lag=: seconds since its last acknowledgement (replicas acknowledge every second)

    @classmethod
    def from_info(cls, value: Any) -> ReplicaLink:
        fields = value if isinstance(value, dict) else dict(_pairs(as_text(value)))
        name = f"{as_text(fields.get('ip', '?'))}:{as_text(fields.get('port', '?'))}"
        return cls(
            name, as_text(fields.get("state", "unknown")), as_int(fields.get("offset")), _seconds(fields.get("lag"))
        )

    @property
    def online(self) -> bool:
        return self.state == "online"


def _pairs(text: str) -> list[tuple[str, str]]:
    """`ip=10.0.0.2,port=6379,…` as pairs (redis-py normally parses these lines itself)."""
    return [(key, val) for key, _, val in (item.partition("=") for item in text.split(",")) if key]


@dataclass(frozen=True, slots=True)
class Replicas:
    """A primary's replicas and its own replication offset (INFO replication on a primary)."""

    connected: int | None  # connected_slaves, whatever their state
    offset: int | None  # master_repl_offset: how far the primary's stream has got
    links: tuple[ReplicaLink, ...]

    @classmethod
    def from_info(cls, replication: Info) -> Replicas:
        lines = sorted(
            (key for key in replication if key.startswith("slave") and key[5:].isdigit()), key=lambda k: int(k[5:])
        )
        links = tuple(ReplicaLink.from_info(replication[key]) for key in lines)
        return cls(as_int(replication.get("connected_slaves")), as_int(replication.get("master_repl_offset")), links)

    @property
    def online(self) -> list[ReplicaLink]:
        return [link for link in self.links if link.online]

    def lag_bytes(self, link: ReplicaLink) -> int | None:
        """How far a replica's acknowledged offset is behind the primary's, in bytes."""
        if self.offset is None or link.offset is None:
            return None
        return max(0, self.offset - link.offset)

    def most_behind(self) -> ReplicaLink | None:
        """The online replica furthest behind in bytes (then in acknowledgement age)."""
        return max(self.online, key=lambda link: (self.lag_bytes(link) or 0, link.ack_age or 0), default=None)


def _behind(lag: int, text: str, options: RedisReplication) -> list[Finding]:
    """Replication lag in bytes against lag_bytes_warn / lag_bytes_fail."""
    found = threshold(lag, text, warn=options.lag_bytes_warn, fail=options.lag_bytes_fail, shown=units.size)
    return [] if found is None else [found]


def _silent(seconds: int, text: str, options: RedisReplication) -> list[Finding]:
    """Seconds without I/O (or acknowledgement) against last_io_warn / last_io_fail."""
    found = threshold(seconds, text, warn=options.last_io_warn, fail=options.last_io_fail, shown=units.span)
    return [] if found is None else [found]


# -- on a replica ---------------------------------------------------------------------------------------------


def link_findings(link: PrimaryLink, options: RedisReplication) -> list[Finding]:
    """The link must be up; the primary heard from recently; what was received applied."""
    findings: list[Finding] = []
    if not link.up:
        if link.syncing:
            since = "" if link.last_io is None else f", last I/O {units.age(link.last_io)} ago"
            text = f"full sync from primary {link.primary} in progress (master_link_status:down{since})"
            findings.append((Status.FAIL, f"replica is not serving current data: {text}"))
        elif link.last_io is None:
            findings.append(
                (
                    Status.FAIL,
                    f"replication link to primary {link.primary} is down (master_link_status:down): "
                    "it has not come up since the replica started",
                )
            )
        else:
            findings.append(
                (
                    Status.FAIL,
                    f"replication link to primary {link.primary} is down (master_link_status:down): "
                    f"no I/O with the primary for {units.age(link.last_io)}",
                )
            )
    elif link.last_io is not None:
        text = f"no I/O with primary {link.primary} for {units.age(link.last_io)} (master_last_io_seconds_ago)"
        findings.extend(_silent(link.last_io, text, options))
    if (lag := link.lag_bytes) is not None:
        text = (
            f"replica is {units.size(lag)} behind what it received from primary {link.primary} "
            f"(slave_read_repl_offset {link.received}, slave_repl_offset {link.applied})"
        )
        findings.extend(_behind(lag, text, options))
    return findings


def link_summary(link: PrimaryLink) -> str:
    last_io = "unknown" if link.last_io is None else f"{units.age(link.last_io)} ago"
    lag = "" if link.lag_bytes is None else f", {units.size(link.lag_bytes)} received and not applied yet"
    return f"replica of {link.primary}: link up, last I/O {last_io}{lag}"


# -- on a primary ---------------------------------------------------------------------------------------------


def replicas_findings(replicas: Replicas, options: RedisReplication) -> list[Finding]:
    """At least `min_replicas` online; each online replica within the lag thresholds, in bytes and in seconds."""
    findings: list[Finding] = []
    online = len(replicas.online)
    if online < options.min_replicas:
        required = units.plural(options.min_replicas, "required replica")
        connected = "unknown" if replicas.connected is None else replicas.connected
        findings.append((Status.FAIL, f"{online} of {required} online (connected_slaves:{connected})"))
    for link in replicas.links:
        if not link.online:
            findings.append((Status.WARN, f"replica {link.name} is not online (state={link.state}): syncing"))
            continue
        if (lag := replicas.lag_bytes(link)) is not None:
            offsets = f"offset {link.offset} of {replicas.offset}"
            text = f"replica {link.name} is {units.size(lag)} behind the primary ({offsets})"
            findings.extend(_behind(lag, text, options))
        if link.ack_age is not None:
            text = f"replica {link.name} last acknowledged {units.age(link.ack_age)} ago (lag={link.ack_age})"
            findings.extend(_silent(link.ack_age, text, options))
    return findings


def replicas_summary(replicas: Replicas, options: RedisReplication) -> str:
    required = "none required" if options.min_replicas == 0 else f"{options.min_replicas} required"
    summary = f"primary with {units.plural(len(replicas.online), 'replica')} online ({required})"
    if (worst := replicas.most_behind()) is None:
        return summary
    lag = replicas.lag_bytes(worst)
    behind = "" if lag is None else f" by {units.size(lag)}"
    acked = "" if worst.ack_age is None else f", acknowledged {units.age(worst.ack_age)} ago"
    return f"{summary}; most behind: {worst.name}{behind}{acked}"

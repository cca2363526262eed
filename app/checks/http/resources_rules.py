"""How a service's memory and CPU are read and judged, as pure functions: the process metrics of a Prometheus
text page, cgroup v2 files (memory.current, memory.max, memory.stat, cpu.stat, cpu.max), the CPU rate between two
runs (kept in ResourcesMemo), and usage against the limits."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

from app import units
from app.checks.judging import Finding, finite, threshold
from app.model import Limit, Observation, Outcome, Status

RSS = "process_resident_memory_bytes"
CPU = "process_cpu_seconds_total"

_NAME_END = re.compile(r"[\s{]")


@dataclass(frozen=True, slots=True)
class Usage:
    """What one run read: usage and limits (None where unknown)."""

    memory: float | None  # bytes in use (RSS, or the cgroup's working set)
    memory_limit: float | None  # bytes
    cpu_seconds: float | None  # the CPU time counter, seconds since the process (or cgroup) started
    cpu_limit: float | None  # cores


@dataclass(slots=True)
class ResourcesMemo:
    """The CPU counter at the previous run and when it was read (monotonic seconds): the rate is the difference."""

    cpu_seconds: float | None = None
    at: float | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    max_memory_ratio: float
    max_cpu_ratio: float
    warn_fraction: float


# -- reading -----------------------------------------------------------------------------------------


def process_metrics(text: str) -> tuple[float | None, float | None]:
    """(resident memory bytes, CPU seconds) of a Prometheus text page; each summed over its series, None when
    absent. Only the process_* lines are parsed (a large page costs a scan, not a parse). ValueError when the
    lines do not parse."""
    wanted = [line for line in text.splitlines() if _about_process(line)]
    found: dict[str, float] = {}
    for family in text_string_to_metric_families("\n".join(wanted) + "\n"):
        for sample in family.samples:
            if sample.name in (RSS, CPU):
                found[sample.name] = found.get(sample.name, 0.0) + float(sample.value)
    return found.get(RSS), found.get(CPU)


def finite_readings(
    memory: float | None, cpu_seconds: float | None, where: str
) -> tuple[float | None, float | None, list[str]]:
    """The readings that are finite numbers (others become None), and a problem naming each that is not (a target
    may write NaN or +Inf: neither can be judged nor kept)."""
    problems = [
        problem
        for name, value in ((RSS, memory), (CPU, cpu_seconds))
        if value is not None and (problem := finite(f"{where} {name}", value)) is not None
    ]
    return (
        memory if memory is not None and math.isfinite(memory) else None,
        cpu_seconds if cpu_seconds is not None and math.isfinite(cpu_seconds) else None,
        problems,
    )


def _about_process(line: str) -> bool:
    if line.startswith(("# HELP ", "# TYPE ")):
        return line[7:].split(" ", 1)[0] in (RSS, CPU, CPU.removesuffix("_total"))
    return _NAME_END.split(line, maxsplit=1)[0] in (RSS, CPU)


def cgroup_max(text: str) -> float | None:
    """memory.max: bytes, or None for `max` (no limit)."""
    value = text.strip()
    return None if value == "max" else float(int(value))


def cgroup_cpu_max(text: str) -> float | None:
    """cpu.max (`$QUOTA $PERIOD` in microseconds): cores, or None for `max` (no limit)."""
    quota, _, period = text.strip().partition(" ")
    if quota == "max":
        return None
    return int(quota) / int(period or "100000")


def flat_keyed(text: str) -> dict[str, int]:
    """A cgroup flat-keyed file (cpu.stat, memory.stat): `key value` per line."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            values[key] = int(value)
    return values


def working_set(current: float, memory_stat: dict[str, int] | None) -> float:
    """memory.current less the inactive file cache (what the kubelet calls the working set; cache the kernel can
    drop does not bring a container nearer its OOM kill)."""
    if not memory_stat:
        return current
    return max(0.0, current - memory_stat.get("inactive_file", 0))


# -- judging -----------------------------------------------------------------------------------------


def cpu_rate(memo: ResourcesMemo, cpu_seconds: float | None, now: float) -> tuple[float | None, str | None]:
    """Cores used since the previous run (the counter's increase over the time between the runs), and a note
    when there is none yet; remembers this run's reading in `memo`."""
    previous, at = memo.cpu_seconds, memo.at
    memo.cpu_seconds, memo.at = cpu_seconds, now
    if cpu_seconds is None:
        return None, None
    if previous is None or at is None:
        return None, "CPU rate from the next run"
    if cpu_seconds < previous:
        return None, "the CPU counter went back (a restart?); CPU rate from the next run"
    if now <= at:
        return None, "CPU rate from the next run"
    return (cpu_seconds - previous) / (now - at), None


def _maximum(ratio: float) -> Limit:
    return Limit(ratio, f"the {units.percent(ratio)} maximum")


def cores(value: float) -> str:
    return f"{value:.3g}"


def of_cores(limit: float) -> str:
    return f"{cores(limit)} core{'' if cores(limit) == '1' else 's'}"


def _judge_share(what: str, used: str, limit: str, ratio: float, maximum: float, warn_fraction: float) -> Finding:
    said = f"{what} {used} of {limit} ({units.percent(ratio)})"
    found = threshold(ratio, said, warn=warn_fraction * maximum, fail=maximum, shown=units.percent, limit="maximum")
    return found or (Status.PASS, said)


def judge(usage: Usage, rate: float | None, note: str | None, limits: Limits, problems: list[str]) -> Outcome:
    """Usage against the limits; `problems` (figures that could not be read) fail the check too."""
    findings: list[Finding] = [(Status.FAIL, problem) for problem in problems]
    said: list[str] = []
    observed: list[Observation] = []
    if usage.memory is not None:
        observed.append(Observation("memory_used", int(usage.memory), "bytes"))
        if usage.memory_limit:
            ratio = usage.memory / usage.memory_limit
            observed += [
                Observation("memory_limit", int(usage.memory_limit), "bytes"),
                Observation("memory_ratio", round(ratio, 4), "ratio", _maximum(limits.max_memory_ratio)),
            ]
            status, sentence = _judge_share(
                "memory",
                units.size(usage.memory),
                units.size(usage.memory_limit),
                ratio,
                limits.max_memory_ratio,
                limits.warn_fraction,
            )
            findings.append((status, sentence))
            said.append(sentence)
        else:
            said.append(f"memory {units.size(usage.memory)} (no limit to judge it against)")
    if rate is not None:
        observed.append(Observation("cpu_usage_cores", round(rate, 4), "cores"))
        if usage.cpu_limit:
            ratio = rate / usage.cpu_limit
            observed += [
                Observation("cpu_limit_cores", usage.cpu_limit, "cores"),
                Observation("cpu_ratio", round(ratio, 4), "ratio", _maximum(limits.max_cpu_ratio)),
            ]
            status, sentence = _judge_share(
                "CPU", cores(rate), of_cores(usage.cpu_limit), ratio, limits.max_cpu_ratio, limits.warn_fraction
            )
            findings.append((status, sentence))
            said.append(sentence)
        else:
            said.append(f"CPU {cores(rate)} cores (no limit to judge it against)")
    elif note is not None:
        said.append(note)
    return Outcome.from_findings(findings, observed, ok="; ".join(said) or "no usage figures")

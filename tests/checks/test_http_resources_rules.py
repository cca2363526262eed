"""Reading and judging memory and CPU (app/checks/http/resources_rules.py), without a server: Prometheus text,
cgroup v2 file contents, the CPU rate between runs and usage against the limits."""

from __future__ import annotations

import pytest

from app.checks.http.resources_rules import (
    Limits,
    ResourcesMemo,
    Usage,
    cgroup_cpu_max,
    cgroup_max,
    cpu_rate,
    finite_readings,
    flat_keyed,
    judge,
    process_metrics,
    working_set,
)
from app.model import Status

MiB = 1024 * 1024
LIMITS = Limits(max_memory_ratio=0.8, max_cpu_ratio=0.7, warn_fraction=0.9)

PAGE = """# HELP python_gc_objects_collected_total Objects collected during gc
# TYPE python_gc_objects_collected_total counter
python_gc_objects_collected_total{generation="0"} 1234.0
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 5.24288e+07
# HELP process_resident_memory_bytes_peak Not the one.
# TYPE process_resident_memory_bytes_peak gauge
process_resident_memory_bytes_peak 9e+09
# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
http_requests_total{path="/"} 7
"""


def test_process_metrics_from_a_prometheus_page() -> None:
    assert process_metrics(PAGE) == (52428800.0, 12.5)
    assert process_metrics("up 1\n") == (None, None)
    two = 'process_cpu_seconds_total{worker="a"} 1\nprocess_cpu_seconds_total{worker="b"} 2.5\n'
    assert process_metrics(two) == (None, 3.5)  # series summed
    with pytest.raises(ValueError):
        process_metrics("process_resident_memory_bytes not-a-number\n")


def test_cgroup_files() -> None:
    assert cgroup_max("max\n") is None
    assert cgroup_max("1073741824\n") == 1073741824
    assert cgroup_cpu_max("max 100000\n") is None
    assert cgroup_cpu_max("150000 100000\n") == 1.5
    assert cgroup_cpu_max("50000\n") == 0.5  # period defaults to 100 ms
    stat = flat_keyed("usage_usec 5000000\nuser_usec 4000000\nnr_throttled 2\nbroken line\n")
    assert stat == {"usage_usec": 5000000, "user_usec": 4000000, "nr_throttled": 2}
    assert working_set(100 * MiB, {"inactive_file": 30 * MiB}) == 70 * MiB
    assert working_set(10 * MiB, {"inactive_file": 30 * MiB}) == 0
    assert working_set(10 * MiB, None) == 10 * MiB
    with pytest.raises(ValueError):
        cgroup_max("lots")


def test_cpu_rate_between_runs_kept_in_the_memo() -> None:
    memo = ResourcesMemo()
    assert cpu_rate(memo, 10.0, now=100.0) == (None, "CPU rate from the next run")
    assert cpu_rate(memo, 13.0, now=110.0) == (0.3, None)  # 3 CPU seconds in 10 s
    assert (memo.cpu_seconds, memo.at) == (13.0, 110.0)
    assert cpu_rate(memo, 1.0, now=120.0) == (
        None,
        "the CPU counter went back (a restart?); CPU rate from the next run",
    )
    assert cpu_rate(memo, 3.0, now=130.0) == (0.2, None)
    assert cpu_rate(memo, None, now=140.0) == (None, None)  # no counter: nothing to say about CPU
    assert cpu_rate(memo, 5.0, now=150.0) == (None, "CPU rate from the next run")


def test_usage_against_the_limits() -> None:
    calm = judge(Usage(100 * MiB, 1024 * MiB, 0.0, 2.0), 0.2, None, LIMITS, [])
    assert (calm.status, calm.output) == (Status.PASS, "memory 100.0 MiB of 1.0 GiB (10%); CPU 0.2 of 2 cores (10%)")
    near = judge(Usage(760 * MiB, 1024 * MiB, 0.0, 1.0), 0.65, None, LIMITS, [])
    assert near.status is Status.WARN
    assert near.output == (
        "memory 760.0 MiB of 1.0 GiB (74%), at or above the 72% warn threshold of its 80% maximum; "
        "CPU 0.65 of 1 core (65%), at or above the 63% warn threshold of its 70% maximum"
    )
    hot = judge(Usage(900 * MiB, 1024 * MiB, 0.0, 1.0), 0.9, None, LIMITS, [])
    assert hot.status is Status.FAIL
    assert hot.output == (
        "memory 900.0 MiB of 1.0 GiB (88%), at or above the 80% maximum; "
        "CPU 0.9 of 1 core (90%), at or above the 70% maximum"
    )
    first = judge(Usage(100 * MiB, None, 5.0, None), None, "CPU rate from the next run", LIMITS, [])
    assert (first.status, first.output) == (
        Status.PASS,
        "memory 100.0 MiB (no limit to judge it against); CPU rate from the next run",
    )
    unlimited = judge(Usage(None, None, 5.0, None), 0.5, None, LIMITS, ["x has no process_resident_memory_bytes"])
    assert (unlimited.status, unlimited.output) == (Status.FAIL, "x has no process_resident_memory_bytes")
    seen = {o.name: o for o in hot.observed}
    assert (seen["memory_used"].value, seen["memory_used"].unit) == (900 * MiB, "bytes")
    assert (seen["cpu_usage_cores"].value, seen["cpu_limit_cores"].value, seen["cpu_ratio"].value) == (0.9, 1.0, 0.9)
    assert seen["cpu_ratio"].limit is not None and seen["cpu_ratio"].limit.value == 0.7


def test_readings_that_are_not_finite_numbers_are_problems_not_usage() -> None:
    memory, cpu, problems = finite_readings(float("inf"), float("nan"), "http://t/metrics")
    assert (memory, cpu) == (None, None)
    assert problems == [
        "http://t/metrics process_resident_memory_bytes read as inf, not a finite number",
        "http://t/metrics process_cpu_seconds_total read as nan, not a finite number",
    ]
    assert finite_readings(1e6, 2.5, "x") == (1e6, 2.5, [])
    failed = judge(Usage(None, 1024 * MiB, None, 1.0), None, None, LIMITS, problems)
    assert failed.status is Status.FAIL and failed.output == "; ".join(problems)

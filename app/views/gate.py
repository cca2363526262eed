"""`vigil check`'s reports: the table and JUnit, both grouped by area (the production-readiness view).

Both follow the readiness rule (app.engine.readiness), as the exit status does: what blocks readiness is listed first
(areas with a blocking check first, and in each area blocking checks, then warnings, root causes first among them),
counted and named in the summary line; in JUnit a check fails when it blocks readiness.
"""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from app import units
from app.engine.readiness import Assessment, assess, counts_as
from app.engine.store import CheckState, Store
from app.model import Status
from app.text import printable, xml_safe
from app.views.report import by_area, output_of, root_causes_first, unconfirmed_text

OUTPUT_LINES = 6  # an output wraps over at most this many lines; the rest is cut, and the cut says so
OUTPUT_MIN_WIDTH = 40
NAMED = 5  # blocking checks named in the summary line; the rest are counted
_COLOURS = {"pass": "32", "warn": "33", "fail": "31", "pending": "31", "bold": "1", "dim": "2"}
_RANK = {Status.FAIL: 0, Status.WARN: 1, Status.PASS: 2}


def _paint(text: str, colour: str, on: bool) -> str:
    return f"\033[{_COLOURS[colour]}m{text}\033[0m" if on else text


def judged(states: Sequence[CheckState], *, strict: bool = False) -> Assessment[CheckState]:
    """The readiness rule over `states`, keeping which block and which warn."""
    return assess(states, lambda s: (s.effective, s.severity), strict=strict)


def blocking_first(store: Store, states: list[CheckState], *, strict: bool) -> list[CheckState]:
    """Checks that block readiness, then those that warn, then the rest; root causes first within each."""
    ordered = root_causes_first(store, states)
    return sorted(ordered, key=lambda s: _RANK[counts_as(s.effective, s.severity, strict=strict)])


def full_output(store: Store, state: CheckState) -> str:
    """What the check found, on one line, with the latest run hysteresis has not reported yet."""
    if state.last is None:
        return "not run"
    text = " ".join(printable(output_of(store, state)).split())
    held = unconfirmed_text(state)
    return f"{held}: {text}" if held else text


def wrap(text: str, width: int) -> list[str]:
    """`text` over lines of `width`, at most OUTPUT_LINES of them; a cut ends with how much was left out."""
    lines = textwrap.wrap(text, width, break_on_hyphens=False) or [""]
    if len(lines) <= OUTPUT_LINES:
        return lines
    kept = lines[:OUTPUT_LINES]
    left = len(text) - len(" ".join(kept))
    marker = f"… ({left} more characters: --format json has all of it)"
    kept[-1] = textwrap.shorten(kept[-1], max(10, width - len(marker) - 1), placeholder="") + " " + marker
    return kept


def _counts(verdict: Assessment[CheckState], total: int, noun: str = " checks") -> str:
    ok = total - len(verdict.blocking) - len(verdict.warning)
    text = f"{ok} of {total}{noun} ok"
    if verdict.warning:
        text += f", {len(verdict.warning)} {'warns' if len(verdict.warning) == 1 else 'warn'}"
    return text


def summary(verdict: Assessment[CheckState], total: int, elapsed: float) -> str:
    """`NOT READY: web:home blocks readiness; 1 of 3 checks ok, 1 warns, in 0.52s`."""
    counts = _counts(verdict, total)
    if verdict.ready:
        return f"READY: {counts}, in {units.latency(elapsed)}"
    names = ", ".join(str(s.check_id) for s in verdict.blocking[:NAMED])
    if len(verdict.blocking) > NAMED:
        names += f" and {len(verdict.blocking) - NAMED} more"
    blocked = f"{names} blocks readiness" if len(verdict.blocking) == 1 else f"{names} block readiness"
    return f"NOT READY: {blocked}; {counts}, in {units.latency(elapsed)}"


def table(
    store: Store,
    states: list[CheckState],
    elapsed: float,
    *,
    strict: bool = False,
    columns: int = 120,
    colour: bool = False,
) -> str:
    """The human report. Outputs wrap to fit `columns`; `colour`: ANSI colours (a terminal without NO_COLOR)."""
    rows: list[tuple[str, ...]] = [("CHECK", "STATUS", "SEVERITY", "TIME", "OUTPUT")]
    states_of: dict[str, CheckState] = {}
    areas = sorted(by_area(states).items(), key=lambda item: judged(item[1], strict=strict).ready)
    for area, members in areas:
        verdict = judged(members, strict=strict)
        rows.append((f"{area.label}: {verdict.status.value.upper()} ({_counts(verdict, len(members), '')})",))
        for state in blocking_first(store, members, strict=strict):
            last = state.last
            name = f"  {state.check_id}"
            states_of[name] = state
            rows.append(
                (
                    name,
                    state.state_name.value.upper() if last else "-",
                    state.severity.value,
                    units.latency(last.duration) if last else "-",
                    full_output(store, state),
                )
            )
    widths = [max(len(row[i]) for row in rows if len(row) > 1) for i in range(4)]
    indent = sum(widths) + 2 * 4
    width = max(OUTPUT_MIN_WIDTH, columns - indent)
    lines = []
    for row in rows:
        if len(row) == 1:
            lines.append(_paint(row[0], "bold", colour))
            continue
        cells = [cell.ljust(widths[i]) for i, cell in enumerate(row[:4])]
        if row[0] in states_of:
            state = states_of[row[0]]
            contribution = counts_as(state.effective, state.severity, strict=strict)
            cells[1] = _paint(cells[1], state.state_name.value, colour)
            if contribution is Status.FAIL:
                cells[0] = _paint(cells[0], "bold", colour)
        wrapped = wrap(row[4], width) if row[0] in states_of else [row[4]]
        lines.append("  ".join(cells) + "  " + wrapped[0])
        lines.extend(" " * indent + more for more in wrapped[1:])
    roots = [s for s in root_causes_first(store, states) if s.effective is Status.FAIL]
    if any(output_of(store, s) != s.effective_output for s in roots):
        causes = [str(s.check_id) for s in roots if output_of(store, s) == s.effective_output]
        lines.append("")
        lines.append(f"root causes: {', '.join(causes) or 'none among these checks'}")
    verdict = judged(blocking_first(store, states, strict=strict), strict=strict)  # root causes named first
    lines.append("")
    lines.append(_paint(summary(verdict, len(states), elapsed), "pass" if verdict.ready else "fail", colour))
    return "\n".join(lines) + "\n"


def junit_xml(store: Store, states: list[CheckState], elapsed: float, *, strict: bool = False) -> str:
    """One testsuite per area (`vigil.<area>`), one testcase per check; a check fails when it blocks readiness
    (the readiness rule: a failing degraded check only warns, unless `strict`)."""
    suites = ET.Element("testsuites", name="vigil", tests=str(len(states)), time=f"{elapsed:.3f}")
    total_failures = 0
    for area, members in by_area(states).items():
        # Checks of an area run side by side: the area took as long as its slowest check.
        took = max((s.last.duration for s in members if s.last is not None), default=0.0)
        suite = ET.SubElement(
            suites, "testsuite", name=f"vigil.{area.value}", tests=str(len(members)), time=f"{took:.3f}"
        )
        ET.SubElement(ET.SubElement(suite, "properties"), "property", name="area", value=area.label)
        failures = 0
        for state in root_causes_first(store, members):
            last = state.last
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"vigil.{state.component}",
                name=state.check,
                time=f"{last.duration:.3f}" if last else "0",
            )
            message = xml_safe(full_output(store, state))
            contribution = counts_as(state.effective, state.severity, strict=strict)
            if contribution is Status.FAIL:
                failures += 1
                failure = ET.SubElement(case, "failure", message=message[:200], type=state.severity.value)
                failure.text = message
            elif state.effective is Status.FAIL:
                ET.SubElement(case, "system-out").text = f"failed (degraded: does not gate readiness): {message}"
            elif contribution is Status.WARN or state.unconfirmed is not None:
                ET.SubElement(case, "system-out").text = f"{state.state_name.value}: {message}"
        suite.set("failures", str(failures))
        total_failures += failures
    suites.set("failures", str(total_failures))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

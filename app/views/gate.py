"""`vigil check`'s reports: the table and JUnit, both grouped by area (the production-readiness view).

Root causes come first in each area: a failing check not explained by a failing dependency (`depends_on`).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from app import units
from app.engine.store import CheckState, Store
from app.model import Status
from app.text import printable, xml_safe
from app.views.report import by_area, output_of, overall, root_causes_first


def table(store: Store, states: list[CheckState], ready: bool, elapsed: float, *, strict: bool = False) -> str:
    rows: list[tuple[str, ...]] = [("CHECK", "STATUS", "SEVERITY", "TIME", "OUTPUT")]
    for area, members in by_area(states).items():
        ok = sum(1 for s in members if s.last is not None and s.last.status.ok)
        verdict = overall(members, strict=strict).value.upper()
        rows.append((f"{area.label}: {verdict} ({ok} of {len(members)} ok)",))
        for state in root_causes_first(store, members):
            last = state.last
            rows.append(
                (
                    f"  {state.check_id}",
                    last.status.value.upper() if last else "-",
                    state.severity.value,
                    units.latency(last.duration) if last else "-",
                    printable(output_of(store, state) if last else "not run", 160),
                )
            )
    widths = [max(len(row[i]) for row in rows if len(row) > 1) for i in range(4)]
    lines = [
        row[0] if len(row) == 1 else "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4]
        for row in rows
    ]
    roots = [s for s in root_causes_first(store, states) if s.effective is Status.FAIL]
    if any(output_of(store, s) != s.effective_output for s in roots):
        causes = [str(s.check_id) for s in roots if output_of(store, s) == s.effective_output]
        lines.append("")
        lines.append(f"root causes: {', '.join(causes) or 'none among these checks'}")
    failed = sum(1 for s in states if s.last is None or not s.last.status.ok)
    lines.append("")
    lines.append(
        f"{'READY' if ready else 'NOT READY'}: {len(states) - failed} of {len(states)} checks ok in {units.latency(elapsed)}"
    )
    return "\n".join(lines) + "\n"


def junit_xml(store: Store, states: list[CheckState], elapsed: float) -> str:
    """One testsuite per area (`vigil.<area>`), one testcase per check; fail for a failed or unrun check. Well-formed
    XML 1.0 whatever the outputs say (characters XML cannot carry are written as escapes)."""
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
            if last is None or last.status is Status.FAIL:
                failures += 1
                message = xml_safe(output_of(store, state) if last else "not run")
                failure = ET.SubElement(case, "failure", message=message[:200], type=state.severity.value)
                failure.text = message
            elif last.status is Status.WARN:
                ET.SubElement(case, "system-out").text = xml_safe(f"warn: {last.output}")
        suite.set("failures", str(failures))
        total_failures += failures
    suites.set("failures", str(total_failures))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"

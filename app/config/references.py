"""References between parts of the configuration: `depends_on` names components without a cycle, and maintenance
windows name components and checks that exist. Pure functions over the validated components."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from app.config.fields import ComponentConfig
from app.config.maintenance import MaintenanceWindow
from app.config.problems import ConfigProblem


def dependency_problems(
    components: Mapping[str, ComponentConfig], name: str, set_aside: Collection[str] = ()
) -> list[ConfigProblem]:
    """`depends_on` of component `name` names other components (or ones `set_aside` for errors of their own), and
    following it never comes back (no cycles)."""
    path = f"components.{name}.depends_on"
    problems = []
    for dependency in components[name].depends_on:
        if dependency == name:
            problems.append(ConfigProblem(path, "a component cannot depend on itself"))
        elif dependency not in components and dependency not in set_aside:
            problems.append(ConfigProblem(path, f"no component named {dependency!r}"))
    if problems:
        return problems
    trail, stack = [name], [(name, iter(components[name].depends_on))]
    while stack:
        _, pending = stack[-1]
        following = next(pending, None)
        if following is None:
            stack.pop()
            trail.pop()
        elif following == name:
            return [ConfigProblem(path, f"a dependency cycle: {' -> '.join([*trail, name])}")]
        elif following not in trail and following in components:
            trail.append(following)
            stack.append((following, iter(components[following].depends_on)))
    return []


def maintenance_problems(
    components: Mapping[str, ComponentConfig], maintenance: Sequence[MaintenanceWindow]
) -> list[ConfigProblem]:
    """A maintenance window names components and checks that exist."""
    problems = []
    for n, window in enumerate(maintenance):
        for component in window.components:
            if component not in components:
                problems.append(ConfigProblem(f"maintenance.{n}.components", f"no component named {component!r}"))
        for check_id in window.checks:
            component, _, check = check_id.partition(":")
            if component not in components or check not in components[component].checks:
                problems.append(
                    ConfigProblem(f"maintenance.{n}.checks", f"no check {check_id!r} (write it as component:check)")
                )
    return problems

"""Which outage explains a failing check: its own component's, or a component it needs through `depends_on`.

The metrics carry it (`vigil_check_cause`) so Alertmanager can page once per outage: a root cause's alert
inhibits the alerts of the checks it explains.
"""

from __future__ import annotations

from app.engine.store import CheckState, Store
from app.model import Status


def failing_critically(store: Store, component: str) -> bool:
    return any(s.critical and s.effective is Status.FAIL for s in store.component(component))


def root_cause(store: Store, state: CheckState) -> str:
    """The component whose failure explains this failing check: follow `depends_on` from the check's component
    through dependencies whose critical checks fail, as far as the chain goes (config refuses cycles); the check's
    own component when none of its dependencies fails."""
    component = state.component
    depends_on = state.spec.component.depends_on
    seen = {component}
    while True:
        failing = next((d for d in depends_on if d not in seen and failing_critically(store, d)), None)
        if failing is None:
            return component
        component = failing
        seen.add(component)
        members = store.component(component)
        depends_on = members[0].spec.component.depends_on if members else []

"""The documents and their declared shapes are one: what the views build validates against the typed dicts that
/openapi.json is generated from (an undeclared key is refused)."""

from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter, ValidationError

from app.api.documents import health_body, status_body
from app.model import CheckId, Status
from app.views.report import encode, health_document
from app.views.shapes import HealthDocument, StatusDocument
from app.views.statusview import RowMemo, build
from tests.views.test_statusview import NOW, make_store, record

HEALTH = TypeAdapter(HealthDocument)
STATUS = TypeAdapter(StatusDocument)


def store_of_every_state():  # type: ignore[no-untyped-def]
    store = make_store("a:pass", "a:warn", "a:fail", "a:pending", "b:held", degraded=("a:warn",))
    record(store, "a:pass", Status.PASS, "PONG")
    record(store, "a:warn", Status.WARN, "slow")
    record(store, "a:fail", Status.FAIL, "refused")
    record(store, "b:held", Status.PASS, "PONG")
    record(store, "b:held", Status.FAIL, "refused")
    store.states[CheckId("b", "held")].reported = Status.PASS  # as below a failure threshold
    return store


@pytest.mark.parametrize("details", [True, False])
@pytest.mark.parametrize("group", [None, "area"])
def test_health_documents_are_their_declared_shape(details: bool, group: str | None) -> None:
    store = store_of_every_state()
    _, document = health_document(store, list(store.states.values()), details=details, group=group)
    assert HEALTH.validate_json(encode(document)) == json.loads(encode(document))
    with pytest.raises(ValidationError):
        HEALTH.validate_python({**document, "undeclared": 1})


@pytest.mark.parametrize("details", [True, False])
def test_status_documents_are_their_declared_shape(details: bool) -> None:
    store = store_of_every_state()
    document = build(
        store, NOW, details=details, memo=RowMemo(), runs_enabled=True, show_details="always", details_note="hidden"
    )
    assert STATUS.validate_json(json.dumps(document)) == json.loads(json.dumps(document))
    held = document["components"][1]["checks"][0]
    assert held["unconfirmed"] == {"status": "fail", "runs": 1, "needed": 1, "output": "refused" if details else None}
    row = document["components"][0]["checks"][0]
    with pytest.raises(ValidationError):
        STATUS.validate_python({**document, "components": [{**document["components"][0], "checks": [{**row, "x": 1}]}]})


def test_openapi_documents_the_same_shapes() -> None:
    assert health_body("x")["model"] is HealthDocument
    assert status_body("x")["model"] is StatusDocument

"""The component types Vigil knows, one module each; a new type is a module plus one line here."""

from __future__ import annotations

from app.checks.base import CheckContext, CheckFn, ComponentType
from app.checks.clickhouse import CLICKHOUSE
from app.checks.http import HTTP
from app.checks.redis import REDIS

COMPONENT_TYPES: dict[str, ComponentType] = {t.name: t for t in (REDIS, CLICKHOUSE, HTTP)}

__all__ = ["COMPONENT_TYPES", "CheckContext", "CheckFn", "ComponentType"]

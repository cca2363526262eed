"""Configuration building blocks shared by the settings and by every check module.

Durations, secrets, the schedule fields, and the base models a component type and its checks derive from.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, model_validator

from app.config.files import CA_LIMIT, SECRET_LIMIT, FileRefused, check_file, read_limited
from app.units import parse_duration, parse_size, span

Duration = Annotated[float, BeforeValidator(parse_duration)]
"""Seconds, written in YAML or the environment as `500ms`, `15s`, `2m` or a plain number (finite, ten years at most)."""
Bytes = Annotated[int, BeforeValidator(parse_size)]

MAX_SCHEDULE = 7 * 86400.0
MAX_HISTORY = 7 * 86400.0  # a fixed 6 bytes per minute per check: 60 KiB a check at this bound


def _at_most(limit: float, what: str) -> AfterValidator:
    def check(seconds: float) -> float:
        if seconds > limit:
            raise ValueError(f"{span(seconds)} is longer than {span(limit)}, the most {what} may be")
        return seconds

    return AfterValidator(check)


ScheduleDuration = Annotated[
    float, BeforeValidator(parse_duration), _at_most(MAX_SCHEDULE, "an interval, timeout or initial_delay")
]
"""A Duration of the schedule (interval, timeout, initial_delay): a week at most, so every check runs."""

HistoryDuration = Annotated[float, BeforeValidator(parse_duration), _at_most(MAX_HISTORY, "the history kept")]


def _ca_file(value: str | None) -> str | None:
    if value is not None:
        try:
            check_file(Path(value), CA_LIMIT)
        except FileRefused as exc:
            raise ValueError(f"{value} {exc}") from None
    return value


CaFile = Annotated[str | None, AfterValidator(_ca_file)]
"""A CA bundle the TLS library reads when it connects: a regular file of a few MiB at most."""


class Severity(StrEnum):
    CRITICAL = "critical"  # gates readiness
    DEGRADED = "degraded"  # reported, never gates readiness


class Area(StrEnum):
    """The five areas of "is this deployment production ready?"; every check belongs to one."""

    DATABASE = "database"  # database connectivity
    REDIS = "redis"  # Redis availability
    SECURITY = "security"  # security configuration
    PERFORMANCE = "performance"  # performance baselines
    COMMUNICATION = "communication"  # cross-service communication

    @property
    def label(self) -> str:
        return AREA_TITLES[self]


AREA_TITLES = {
    Area.DATABASE: "database connectivity",
    Area.REDIS: "Redis availability",
    Area.SECURITY: "security configuration",
    Area.PERFORMANCE: "performance baselines",
    Area.COMMUNICATION: "cross-service communication",
}


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def read_secret_file(path: Path, field: str) -> SecretStr:
    try:
        return SecretStr(read_limited(path, SECRET_LIMIT).decode().strip())
    except OSError as exc:
        raise ValueError(f"{field}_file: cannot read {path}: {exc.strerror}") from None
    except FileRefused as exc:
        raise ValueError(f"{field}_file: {path} {exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"{field}_file: {path} is not UTF-8 text") from None


class SecretFields(Frozen):
    """Models with `X: SecretStr | None` fields also accept `X_file` (a Kubernetes Secret mount)."""

    secret_fields: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="before")
    @classmethod
    def _load_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in cls.secret_fields:
            file_value = data.pop(f"{name}_file", None)
            if file_value is None:
                continue
            if data.get(name) is not None:
                raise ValueError(f"set either {name} or {name}_file, not both")
            data[name] = read_secret_file(Path(str(file_value)), name)
        return data

    def secret_values(self) -> list[str]:
        values = []
        for name in self.secret_fields:
            secret = getattr(self, name, None)
            if isinstance(secret, SecretStr) and secret.get_secret_value():
                values.append(secret.get_secret_value())
        return values


class ScheduleFields(Frozen):
    """Per-check scheduling; unset fields fall back to the top-level `defaults`."""

    interval: ScheduleDuration | None = None
    timeout: ScheduleDuration | None = None
    initial_delay: ScheduleDuration | None = None
    failure_threshold: int | None = Field(default=None, ge=1)
    success_threshold: int | None = Field(default=None, ge=1)
    severity: Severity | None = None


@dataclass(frozen=True, slots=True)
class Schedule:
    """A check's effective schedule, after defaults were applied."""

    interval: float
    timeout: float
    initial_delay: float
    failure_threshold: int
    success_threshold: int
    severity: Severity

    @property
    def stale_after(self) -> float:
        """A result older than this counts as failed (the staleness watchdog)."""
        return 2 * self.interval + self.timeout


def _forecast_off(value: Any) -> Any:
    """`forecast: off` (YAML reads it as false) or "off"/"none" turns forecasting off; `true` keeps the defaults."""
    if value is False or (isinstance(value, str) and value.strip().lower() in ("off", "none", "false")):
        return None
    if value is True:
        return {}
    return value


class ForecastSettings(Frozen):
    """Early warning: fit the last `window` of each limited value; warn when it reaches its limit within `horizon`."""

    window: Duration = Field(default=7200.0, gt=0.0)
    horizon: Duration = Field(default=86400.0, gt=0.0)


class CheckConfig(ScheduleFields):
    """Base of every check's options. Subclasses set `kind` as a Literal and add their own fields.

    `default_severity` is the class's severity when neither the check nor the defaults say otherwise:
    connectivity checks are critical, data-quality checks degraded.
    """

    default_severity: ClassVar[Severity] = Severity.CRITICAL
    # The kind's area when the check sets none; None: the component type's (see ComponentConfig.default_area).
    default_area: ClassVar[Area | None] = None
    kind: str
    area: Area | None = None
    forecast: Annotated[ForecastSettings | None, BeforeValidator(_forecast_off)] = ForecastSettings()

    # Timeouts of the check's own waits fitted to its timeout when not set: (field, or sub.field, fraction). Those
    # that run one after the other share the timeout (0.4 each for two), so `timeout: 1s` just works.
    inner_timeouts: ClassVar[tuple[tuple[str, float], ...]] = ()

    def fitted(self, timeout: float) -> Self:
        """This check with every inner timeout the user did not set no longer than its share of `timeout`:
        min(default, fraction x timeout). Timeouts set explicitly stay as they are (and are validated as set)."""
        updates: dict[str, Any] = {}
        for dotted, fraction in self.inner_timeouts:
            owner_name, _, name = dotted.rpartition(".")
            owner = updates.get(owner_name, getattr(self, owner_name)) if owner_name else self
            if not isinstance(owner, BaseModel) or name in owner.model_fields_set:
                continue
            value = float(getattr(owner, name))
            fitted = min(value, round(fraction * timeout, 6))
            if fitted == value:
                continue
            if owner_name:
                updates[owner_name] = owner.model_copy(update={name: fitted})
            else:
                updates[name] = fitted
        return self.model_copy(update=updates) if updates else self

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        """Problems between this check's options and its effective schedule, as (field, what is wrong).

        Only the settings know the effective schedule (defaults applied), so they call this after loading.
        """
        return []


class ComponentConfig(SecretFields):
    """Base of every component type. Subclasses set `type` as a Literal and `checks` to a union of their checks."""

    default_area: ClassVar[Area] = Area.COMMUNICATION  # a check's area when neither it nor its kind says
    type: str
    depends_on: list[str] = Field(default_factory=list)  # components this one needs (root causes first in reports)
    checks: dict[str, Any] = Field(default_factory=dict)

    # Timeouts fitted to the checks when not set: (field, bounded by: another field or None for the shortest check
    # timeout, fraction). E.g. socket < check timeout and pool < socket: a `timeout: 1s` check just works.
    timeout_chain: ClassVar[tuple[tuple[str, str | None, float], ...]] = ()

    @property
    def socket_deadline(self) -> float:
        """The longest one network wait of this component's client may take; every check's timeout must be longer."""
        return 0.0

    def fitted(self, shortest_timeout: float) -> Self:
        """This component with every timeout the user did not set no longer than its share of what bounds it:
        min(default, fraction x bound). Timeouts set explicitly stay as they are (and are validated as set)."""
        effective: dict[str, float] = {}
        updates: dict[str, float] = {}
        for name, bound, fraction in self.timeout_chain:
            value = float(getattr(self, name))
            if name not in self.model_fields_set:
                limit = shortest_timeout if bound is None else effective[bound]
                fitted = min(value, round(fraction * limit, 6))
                if fitted != value:
                    updates[name] = value = fitted
            effective[name] = value
        return self.model_copy(update=updates) if updates else self

    @model_validator(mode="before")
    @classmethod
    def _default_check_kind(cls, data: Any) -> Any:
        # A check's kind defaults to its name: `checks: {connectivity: {}}`.
        if isinstance(data, dict) and isinstance(data.get("checks"), dict):
            checks = {}
            for name, options in data["checks"].items():
                options = {} if options is None else options
                if isinstance(options, dict) and "kind" not in options:
                    options = {**options, "kind": name}
                checks[name] = options
            data = {**data, "checks": checks}
        return data

    def secret_values(self) -> list[str]:
        values = super().secret_values()
        for check in self.checks.values():
            if isinstance(check, SecretFields):
                values.extend(check.secret_values())
        return values

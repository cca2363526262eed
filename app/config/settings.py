"""Vigil's settings: one YAML file plus `VIGIL_*` environment overrides, validated once into a frozen model.

`load_settings` is the only entry point; its ConfigError carries one ConfigProblem (field path, message) each.
"""

from __future__ import annotations

import os
import re
from contextvars import ContextVar
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from jose import jwk  # type: ignore[import-untyped]
from jose.exceptions import JWKError  # type: ignore[import-untyped]
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from app.checks import COMPONENT_TYPES
from app.config.fields import (
    CheckConfig,
    ComponentConfig,
    Duration,
    Frozen,
    HistoryDuration,
    Schedule,
    ScheduleDuration,
    SecretFields,
    Severity,
)
from app.config.keys import environment_problems
from app.config.loading import Environment, format_validation_error, read_yaml
from app.config.maintenance import MaintenanceWindow
from app.config.problems import ConfigError, ConfigProblem
from app.config.references import dependency_problems, maintenance_problems
from app.config.reload import ReloadConfig
from app.masking import Scrubber
from app.units import span

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")  # component and check names: they appear in URLs and labels
MIN_HMAC_KEY_BYTES = 32  # RFC 7518 3.2: a key at least as long as the HS256 hash

if TYPE_CHECKING:
    AnyComponent = ComponentConfig
else:  # one model per registered type, told apart by `type:`
    AnyComponent = Annotated[
        Union[tuple(t.config for t in COMPONENT_TYPES.values())],  # noqa: UP007 - built from the registry
        Field(discriminator="type"),
    ]


def name_problem(name: str) -> str | None:
    """What is wrong with a component or check name, if anything."""
    if not NAME.fullmatch(name):
        return f"name must match {NAME.pattern} (it is used in URLs and labels)"
    if "__" in name:
        return "name must not contain `__` (it separates levels in VIGIL_* variables)"
    return None


class ShowDetails(StrEnum):
    NEVER = "never"
    WHEN_AUTHORIZED = "when_authorized"
    ALWAYS = "always"


class Defaults(Frozen):
    interval: ScheduleDuration = 15.0
    timeout: ScheduleDuration = 5.0
    initial_delay: ScheduleDuration = 0.0
    failure_threshold: int = Field(default=3, ge=1)
    success_threshold: int = Field(default=1, ge=1)
    severity: Severity | None = None  # None: each check kind's own default (connectivity critical, data degraded)
    jitter: float = Field(default=0.1, ge=0.0, le=1.0)  # first runs spread over this fraction of the interval
    history: HistoryDuration = 86400.0  # how far back results are kept for availability


class ServerConfig(Frozen):
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=0, le=65535)
    show_details: ShowDetails = ShowDetails.WHEN_AUTHORIZED
    run_cooldown: Duration = 5.0  # a check run on demand is not run again sooner; the cached result is returned
    shutdown_grace: Duration = 3.0  # SIGTERM to exit, well inside the 5 s a kubelet waits by default
    # A request's line and header fields: the largest legitimate one carries a Bearer JWT of a few KiB.
    max_header_bytes: int = Field(default=16384, ge=1024, le=1048576)
    max_headers: int = Field(default=100, ge=8, le=1000)


class AuthConfig(SecretFields):
    """Bearer JWTs for the run endpoints (and for details when show_details is when_authorized)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("key",)

    algorithms: list[str] = Field(min_length=1)
    key: SecretStr  # HMAC secret, or the PEM public key for RS*/ES*/PS*
    audience: str
    issuer: str
    scope: str = "vigil:run"
    leeway: Duration = 0.0

    @field_validator("algorithms")
    @classmethod
    def _no_none(cls, algorithms: list[str]) -> list[str]:
        known = {"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"}  # python-jose's set
        for alg in algorithms:
            if alg not in known:
                raise ValueError(f"unsupported algorithm {alg!r}; use one of {', '.join(sorted(known))}")
        return algorithms

    @model_validator(mode="after")
    def _one_family(self) -> AuthConfig:
        families = {alg[:2] for alg in self.algorithms}
        if "HS" in families and len(families) > 1:
            raise ValueError("algorithms: do not mix HMAC (HS*) with public-key algorithms; one key cannot serve both")
        return self

    @model_validator(mode="after")
    def _usable_key(self) -> AuthConfig:
        """The key is loaded now, at startup: a key that cannot verify tokens is a config error, not a 500 later."""
        key = self.key.get_secret_value()
        if not key:
            raise ValueError("key: must not be empty (anyone could sign tokens with an empty key)")
        if self.algorithms[0].startswith("HS"):
            if len(key.encode()) < MIN_HMAC_KEY_BYTES:
                raise ValueError(
                    f"key: an HMAC key must be at least {MIN_HMAC_KEY_BYTES} bytes (RFC 7518), "
                    f"this one has {len(key.encode())}; generate one with `openssl rand -base64 48`"
                )
            return self
        for algorithm in self.algorithms:
            try:
                jwk.construct(key, algorithm)
            except (JWKError, ValueError, TypeError):
                raise ValueError(
                    f"key: not a PEM public key usable with {algorithm} (expected -----BEGIN PUBLIC KEY-----)"
                ) from None
        return self


class Shard(Frozen):
    """This replica's share of the checks when several replicas (a StatefulSet) split one configuration."""

    index: int = Field(default=0, ge=0)
    count: int = Field(default=1, ge=1, le=1000)

    @model_validator(mode="after")
    def _index_in_range(self) -> Shard:
        if self.index >= self.count:
            raise ValueError(f"index: {self.index} is not below count ({self.count}); shards are numbered from 0")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="VIGIL_",
        env_nested_delimiter="__",
        frozen=True,
        extra="forbid",
        case_sensitive=False,
    )

    log_format: Literal["text", "json"] = "text"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    defaults: Defaults = Defaults()
    server: ServerConfig = ServerConfig()
    auth: AuthConfig | None = None
    shard: Shard = Shard()
    components: dict[str, AnyComponent] = Field(default_factory=dict)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    reload: ReloadConfig = ReloadConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the YAML file (which arrives as init kwargs).
        return (Environment(settings_cls), init_settings)

    @model_validator(mode="after")
    def _check_names_and_deadlines(self) -> Settings:
        # Raised as ConfigError, not ValueError: pydantic passes it through, and the entries keep their paths.
        problems: list[ConfigProblem] = []
        for cname, component in list(self.components.items()):
            if component.checks:  # timeouts the user left unset are fitted to the shortest check timeout
                shortest = min(self.schedule(cname, check).timeout for check in component.checks)
                self.components[cname] = component = component.fitted(shortest)
                checks = {
                    name: check.fitted(self.schedule(cname, name).timeout) for name, check in component.checks.items()
                }
                if any(checks[name] is not check for name, check in component.checks.items()):
                    self.components[cname] = component = component.model_copy(update={"checks": checks})
            if problem := name_problem(cname):
                problems.append(ConfigProblem(f"components.{cname}", problem))
            problems.extend(dependency_problems(self.components, cname, _SET_ASIDE.get()))
            for check_name in component.checks:
                path = f"components.{cname}.checks.{check_name}"
                if problem := name_problem(check_name):
                    problems.append(ConfigProblem(path, problem))
                    continue
                problems.extend(self._schedule_problems(path, cname, check_name))
        problems.extend(maintenance_problems(self.components, self.maintenance))
        if problems:
            raise ConfigError(problems)
        return self

    def _schedule_problems(self, path: str, component: str, check: str) -> list[ConfigProblem]:
        """Deadlines must nest: socket waits < check timeout < interval, and the check's own rules."""
        schedule = self.schedule(component, check)
        problems = []
        if not schedule.timeout < schedule.interval:
            problems.append(
                ConfigProblem(
                    f"{path}.timeout",
                    f"{span(schedule.timeout)} must be shorter than the interval ({span(schedule.interval)})",
                )
            )
        for field, message in self.check_config(component, check).schedule_problems(schedule):
            problems.append(ConfigProblem(f"{path}.{field}", message))
        deadline = self.components[component].socket_deadline
        if not deadline < schedule.timeout:
            problems.append(
                ConfigProblem(
                    f"{path}.timeout",
                    f"{span(schedule.timeout)} must be longer than the component's connect/socket timeouts ({span(deadline)})",
                )
            )
        return problems

    def check_config(self, component: str, check: str) -> CheckConfig:
        options: CheckConfig = self.components[component].checks[check]
        return options

    def schedule(self, component: str, check: str) -> Schedule:
        options = self.check_config(component, check)
        d = self.defaults

        def pick(value: Any, default: Any) -> Any:
            return default if value is None else value

        return Schedule(
            interval=pick(options.interval, d.interval),
            timeout=pick(options.timeout, d.timeout),
            initial_delay=pick(options.initial_delay, d.initial_delay),
            failure_threshold=pick(options.failure_threshold, d.failure_threshold),
            success_threshold=pick(options.success_threshold, d.success_threshold),
            severity=pick(options.severity, pick(d.severity, type(options).default_severity)),
        )

    def secret_values(self) -> list[str]:
        values: list[str] = []
        if self.auth is not None:
            values.extend(self.auth.secret_values())
        for component in self.components.values():
            values.extend(component.secret_values())
        return sorted({v for v in values if v}, key=len, reverse=True)

    def redacted(self) -> dict[str, Any]:
        """Effective values as plain data, every secret replaced; what `vigil config show` prints."""
        scrub = Scrubber(self.secret_values())
        data = self.model_dump(mode="json")
        for cname, component in data.get("components", {}).items():
            for check_name, check in component.get("checks", {}).items():
                schedule = self.schedule(cname, check_name)
                check.update(
                    interval=schedule.interval,
                    timeout=schedule.timeout,
                    initial_delay=schedule.initial_delay,
                    failure_threshold=schedule.failure_threshold,
                    success_threshold=schedule.success_threshold,
                    severity=schedule.severity.value,
                )
        return scrub.data(data)  # type: ignore[no-any-return]


def load_settings(path: str | Path | None = None) -> Settings:
    """Read `path` (else $VIGIL_CONFIG, else no file) and the environment; raise ConfigError naming every problem
    that can be found in one pass (field errors, the rules between fields, variables that set nothing)."""
    chosen = path if path is not None else os.environ.get("VIGIL_CONFIG")
    data = read_yaml(Path(chosen)) if chosen else {}
    problems, reached = environment_problems(Settings, os.environ, data)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        problems.extend(format_validation_error(exc, Settings))
        problems.extend(_rule_problems(data, exc))
    except ConfigError as exc:
        problems.extend(exc.entries)
    except RecursionError:
        problems.append(ConfigProblem("config", "nested too deeply to validate"))
    if problems:
        inside = tuple(f"{path}." for path in reached)  # said once, by the variable's problem
        raise ConfigError([p for p in problems if not (p.path in reached or p.path.startswith(inside))]) from None
    return settings


_SET_ASIDE: ContextVar[frozenset[str]] = ContextVar("set_aside", default=frozenset())


def _rule_problems(data: dict[str, Any], exc: ValidationError) -> list[ConfigProblem]:
    """The rules between fields (names, dependencies, deadlines) run only on a valid model. When every field error
    is inside components, run them again without those components, so one run reports the whole file."""
    broken = set()
    for error in exc.errors(include_input=False, include_url=False):
        loc = error["loc"]
        if len(loc) < 2 or loc[0] != "components":
            return []  # a top-level section is wrong: the rules would judge against values the user did not mean
        broken.add(loc[1])
    components = data.get("components")
    if not isinstance(components, dict):
        return []
    rest = {**data, "components": {name: c for name, c in components.items() if name not in broken}}
    token = _SET_ASIDE.set(frozenset(str(name) for name in broken))
    try:
        Settings(**rest)
    except ConfigError as again:
        return again.entries
    except (ValidationError, RecursionError):
        return []
    finally:
        _SET_ASIDE.reset(token)
    return []


__all__ = [
    "AuthConfig",
    "ComponentConfig",
    "ConfigError",
    "ConfigProblem",
    "Settings",
    "ShowDetails",
    "load_settings",
]

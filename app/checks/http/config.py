"""The `http` component's configuration: the component model and the options of its check kinds.

Validated once, at load; nothing here talks to the network. Paths are relative to the component's `url`.
"""

from __future__ import annotations

import re
import typing
from typing import Annotated, Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from jose import jwk  # type: ignore[import-untyped]
from jose.exceptions import JOSEError  # type: ignore[import-untyped]
from pydantic import AfterValidator, BeforeValidator, Field, SecretStr, field_validator, model_validator

from app.checks.tcp.config import TlsOptions
from app.schema import Area, CheckConfig, ComponentConfig, Duration, Frozen, Schedule, SecretFields, Severity
from app.units import span

SENSITIVE_HEADER = re.compile(r"^(authorization|proxy-authorization|cookie|x-api-key)$|token|secret|key|pass", re.I)
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110 5.6.2)
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")  # a latency path's name: it prefixes observation names
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]iB|[KMGT]i|[kKMGT]B|[kKMGT]|B)?\s*$")
_SIZE_FACTOR = {"": 1, "B": 1, "k": 1000, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4}
DAY = 86400.0

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# What python-jose 3.5 signs with (it has no PS*).
JwtAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]
JWT_ALGORITHMS: tuple[str, ...] = typing.get_args(JwtAlgorithm)


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path or parts.query or parts.fragment:
        raise ValueError(f"{value!r} is not an origin; write scheme and host (and port), e.g. https://app.example")
    return value


def _header_name(value: str) -> str:
    if not HEADER_NAME.match(value):
        raise ValueError(f"{value!r} is not an HTTP header name")
    return value


def _name(value: str) -> str:
    if not NAME.match(value):
        raise ValueError(f"{value!r}: names must match {NAME.pattern}")
    return value


def parse_size(value: Any) -> int:
    """Bytes from `536870912`, `512Mi`, `512MiB`, `1.5GiB`, `500M`, `500MB` (Ki/KiB powers of 1024; k/K/KB of 1000)."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 512Mi, 2GiB or a number of bytes")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        number, unit = float(match.group(1)), match.group(2) or ""
    else:
        raise ValueError("expected a size such as 512Mi, 2GiB or a number of bytes")
    if unit.endswith("iB") or unit.endswith("i"):
        factor = 1024 ** ("KMGT".index(unit[0]) + 1)
    else:
        factor = _SIZE_FACTOR[unit.removesuffix("B") or unit]
    if number < 0:
        raise ValueError("a size cannot be negative")
    return int(number * factor)


def _one_or_more(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Origin = Annotated[str, AfterValidator(_origin)]
HeaderName = Annotated[str, AfterValidator(_header_name)]
Timeout = Annotated[float, Field(gt=0.0)]
Name = Annotated[str, AfterValidator(_name)]
Bytes = Annotated[int, BeforeValidator(parse_size)]


def _longer_than(schedule: Schedule, needed: float, what: str) -> list[tuple[str, str]]:
    if schedule.timeout <= needed:
        return [("timeout", f"{span(schedule.timeout)} must be longer than {what} ({span(needed)})")]
    return []


class HeaderCondition(Frozen):
    """What a response header must be: present (or absent), equal to a value, or matching a regular expression.
    A bare string is shorthand for `{equals: ...}`."""

    present: bool | None = None
    equals: str | None = None
    matches: str | None = None  # re.search: anchor it (^...$) to match the whole value

    @model_validator(mode="before")
    @classmethod
    def _bare_value(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"equals": data}
        if not isinstance(data, dict):
            raise ValueError(
                "write the expected value as a string, or one of {present: true|false}, {equals: ...}, {matches: ...}"
            )
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Self:
        if sum(setting is not None for setting in (self.present, self.equals, self.matches)) != 1:
            raise ValueError("set exactly one of present, equals, matches")
        if self.matches is not None:
            try:
                re.compile(self.matches)
            except re.error as exc:
                raise ValueError(f"matches: not a regular expression ({exc})") from None
        return self


class HttpReachable(CheckConfig):
    """One request; pass when the status is expected, the latency within budget, the JSON fields equal, and every
    header and body condition holds."""

    default_area: ClassVar[Area | None] = Area.COMMUNICATION
    kind: Literal["reachable"] = "reachable"
    path: str = ""
    method: Literal["GET", "HEAD", "POST", "OPTIONS"] = "GET"
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)
    latency_budget: Duration | None = None  # fail when slower
    latency_warn: Duration | None = None  # warn when slower
    json_fields: dict[str, Any] = Field(default_factory=dict)  # dotted path -> expected value
    expect_headers: dict[HeaderName, HeaderCondition] = Field(
        default_factory=dict
    )  # e.g. X-Content-Type-Options: nosniff
    body_contains: Annotated[list[Annotated[str, Field(min_length=1)]], BeforeValidator(_one_or_more)] = Field(
        default_factory=list
    )  # substrings the body (its first MiB, as UTF-8) must contain
    follow_redirects: bool = False
    max_redirects: int = Field(default=3, ge=0, le=10)

    @model_validator(mode="after")
    def _head_has_no_body(self) -> Self:
        if self.method == "HEAD" and (self.body_contains or self.json_fields):
            raise ValueError("method: a HEAD answer has no body; body_contains and json_fields need GET or POST")
        return self


class CorsRoute(Frozen):
    """A request the browser frontend really sends: its method and the headers it adds."""

    path: str = Field(min_length=1)
    method: Method = "GET"
    headers: list[HeaderName] = Field(default_factory=list)  # what the browser lists in Access-Control-Request-Headers


class HttpCors(CheckConfig):
    """Preflights as a browser sends them, per route and allowed origin; a disallowed origin must never be echoed."""

    default_area: ClassVar[Area | None] = Area.COMMUNICATION
    kind: Literal["cors"] = "cors"
    routes: list[CorsRoute] = Field(min_length=1)
    allowed_origins: list[Origin] = Field(min_length=1)
    disallowed_origin: Origin | None = None  # default: a random origin under .invalid, kept for the check's life
    credentials: bool = False  # the frontend sends cookies / Authorization (fetch credentials: include)
    request_timeout: Duration = Field(default=2.0, gt=0.0)  # each request

    @model_validator(mode="after")
    def _disallowed_is_not_allowed(self) -> Self:
        if self.disallowed_origin is not None and self.disallowed_origin in self.allowed_origins:
            raise ValueError("disallowed_origin: is also in allowed_origins")
        return self

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        return _longer_than(schedule, self.request_timeout, "request_timeout")


class TokenEndpoint(SecretFields):
    """An OAuth 2.0 token endpoint and the service account Vigil gets a token with (client credentials grant)."""

    secret_fields: ClassVar[tuple[str, ...]] = ("client_secret",)

    url: str = Field(min_length=1)  # a path under the component's url, or an absolute http(s) URL
    client_id: str = Field(min_length=1)
    client_secret: SecretStr | None = None
    body: Literal["form", "json"] = "form"  # application/x-www-form-urlencoded (RFC 6749) or a JSON object
    scope: str | None = None
    audience: str | None = None  # sent as `audience` (Auth0 and others) when set
    token_field: str = "access_token"
    timeout: Duration = Field(default=2.0, gt=0.0)


class ProtectedRoute(Frozen):
    path: str = Field(min_length=1)
    method: Method = "GET"
    refuse_status: list[int] = Field(default_factory=lambda: [401, 403], min_length=1)  # what a refusal looks like


class HttpJwt(CheckConfig, SecretFields):
    """The authentication flow: a token as a client gets it must open the protected route; bad tokens must not."""

    secret_fields: ClassVar[tuple[str, ...]] = ("signing_key",)

    default_area: ClassVar[Area | None] = Area.COMMUNICATION
    kind: Literal["jwt"] = "jwt"
    token: TokenEndpoint | None = None  # where the valid token comes from; without it Vigil mints one
    # HMAC secret or PEM private key: Vigil mints tokens with it and forges the expired and wrong-audience ones.
    signing_key: SecretStr | None = None
    algorithm: JwtAlgorithm = "HS256"  # of tokens Vigil mints
    audience: str | None = None  # `aud` of minted tokens (forged ones keep the valid token's claims)
    issuer: str | None = None
    claims: dict[str, Any] = Field(default_factory=lambda: {"sub": "vigil"})  # further claims of minted tokens
    lifetime: Duration = Field(default=300.0, gt=0.0)  # of minted tokens
    protected: ProtectedRoute
    request_timeout: Duration = Field(default=2.0, gt=0.0)  # each call of the protected route

    @model_validator(mode="after")
    def _token_source(self) -> Self:
        if self.token is None and self.signing_key is None:
            raise ValueError("token: set token (a token endpoint) or signing_key (Vigil mints the token)")
        if self.signing_key is not None:
            try:
                key = jwk.construct(self.signing_key.get_secret_value(), self.algorithm)
            except (JOSEError, ValueError, TypeError):
                raise ValueError(f"signing_key: not a usable {self.algorithm} signing key") from None
            if not self.algorithm.startswith("HS") and key.is_public():
                raise ValueError(f"signing_key: a public key cannot sign; {self.algorithm} needs the private key")
        return self

    def secret_values(self) -> list[str]:
        values = super().secret_values()
        if self.token is not None:
            values.extend(self.token.secret_values())
        return values

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        if self.token is None:
            return _longer_than(schedule, self.request_timeout, "request_timeout")
        return _longer_than(schedule, self.token.timeout + self.request_timeout, "token.timeout + request_timeout")


class WebSocketAuth(Frozen):
    """Where the handshake carries the token of a `jwt` check of the same component (exactly one place)."""

    check: str  # the jwt check whose token is used (minted from its signing_key, else from its token endpoint)
    query: str | None = None  # ?<query>=<token>
    header: HeaderName | None = None  # <header>: Bearer <token>
    subprotocol: str | None = None  # Sec-WebSocket-Protocol: <subprotocol>, <token>
    refuse_anonymous: bool = True  # a handshake without the token must be refused

    @model_validator(mode="after")
    def _one_place(self) -> Self:
        if sum(place is not None for place in (self.query, self.header, self.subprotocol)) != 1:
            raise ValueError("set exactly one of auth.query, auth.header, auth.subprotocol")
        return self


class HttpWebSocket(CheckConfig):
    """The upgrade with the frontend's origin and credentials, one round trip, and anonymous clients refused."""

    default_area: ClassVar[Area | None] = Area.COMMUNICATION
    kind: Literal["websocket"] = "websocket"
    path: str = Field(min_length=1)
    origin: Origin | None = None
    auth: WebSocketAuth | None = None
    send: str | None = None  # a text message; without it a WebSocket ping is sent and a pong expected
    expect: str | None = None  # a substring of the reply (default: any reply)
    json_fields: dict[str, Any] = Field(default_factory=dict)  # dotted path -> expected value in a JSON reply
    handshake_timeout: Duration = Field(default=2.0, gt=0.0)
    reply_timeout: Duration = Field(default=2.0, gt=0.0)

    @model_validator(mode="after")
    def _expect_needs_send(self) -> Self:
        if self.send is None and (self.expect is not None or self.json_fields):
            raise ValueError("send: expect and json_fields judge the reply to a message; set send too")
        return self

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        return _longer_than(schedule, self.handshake_timeout + self.reply_timeout, "handshake_timeout + reply_timeout")


class HttpTls(TlsOptions):
    """The component's https:// endpoint: one handshake of Vigil's own, the chain judged (see TlsOptions)."""

    kind: Literal["tls"] = "tls"
    handshake_timeout: Duration = Field(default=2.0, gt=0.0)

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        return _longer_than(schedule, self.handshake_timeout, "handshake_timeout")


class HttpHttps(CheckConfig):
    """Plain http redirects (permanently) to https on the same host, and the https answer carries HSTS."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    default_area: ClassVar[Area | None] = Area.SECURITY
    kind: Literal["https"] = "https"
    path: str = ""  # under the component's url: where HSTS is read, and the path of the default http_url
    http_url: str | None = None  # the plain-http URL that must redirect (default: http://<host><path>, port 80)
    min_max_age: Duration = Field(default=180 * DAY, gt=0.0)  # Strict-Transport-Security max-age at least this
    include_subdomains: bool = False  # require includeSubDomains
    request_timeout: Duration = Field(default=2.0, gt=0.0)  # each of the two requests

    @field_validator("http_url")
    @classmethod
    def _plain_http(cls, url: str | None) -> str | None:
        if url is not None and (urlsplit(url).scheme != "http" or not urlsplit(url).hostname):
            raise ValueError("must be a plain http:// URL with a host (the one that should redirect to https)")
        return url

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        return _longer_than(schedule, 2 * self.request_timeout, "two requests of request_timeout")


class LatencyPath(Frozen):
    """One path measured by a `latency` check, and its p95 budget. A bare string is shorthand for `{path: ...}`."""

    path: str
    method: Literal["GET", "HEAD"] = "GET"
    budget: Duration = Field(default=0.2, gt=0.0)  # p95 above it fails

    @model_validator(mode="before")
    @classmethod
    def _bare_path(cls, data: Any) -> Any:
        return {"path": data} if isinstance(data, str) else data


class HttpLatency(CheckConfig):
    """A small load per path each run: p50/p95/p99 and errors; p95 against the path's budget."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    default_area: ClassVar[Area | None] = Area.PERFORMANCE
    kind: Literal["latency"] = "latency"
    paths: dict[Name, LatencyPath] = Field(min_length=1)
    requests: int = Field(default=20, ge=1, le=1000)  # per path per run
    concurrency: int = Field(default=4, ge=1, le=100)  # requests in flight at once (at most max_connections)
    warn_fraction: float = Field(default=0.8, gt=0.0, le=1.0)  # warn when p95 is above this fraction of the budget
    request_timeout: Duration = Field(default=1.0, gt=0.0)  # a request slower than this is an error
    expect_status: list[int] = Field(default_factory=lambda: [200], min_length=1)  # any other status is an error
    max_errors: int = Field(default=0, ge=0)  # per path per run; more fail the check

    @model_validator(mode="after")
    def _request_timeout_above_budgets(self) -> Self:
        largest = max(path.budget for path in self.paths.values())
        if self.request_timeout <= largest:
            raise ValueError(
                f"request_timeout: {span(self.request_timeout)} must be longer than the largest budget "
                f"({span(largest)}); a request cut at its timeout is an error, not a measurement"
            )
        return self

    @property
    def rounds(self) -> int:
        return -(-self.requests // self.concurrency)

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        # Every request at its path's budget must fit: a run cut at its deadline fails the paths it did not finish.
        needed = sum(self.rounds * path.budget for path in self.paths.values())
        what = f"{self.requests} requests per path, {self.concurrency} at a time, each at its path's budget"
        return _longer_than(schedule, needed, what)


class HttpResources(CheckConfig):
    """Memory and CPU of the watched service against its limits, from its Prometheus endpoint or cgroup v2 files."""

    default_severity: ClassVar[Severity] = Severity.DEGRADED
    default_area: ClassVar[Area | None] = Area.PERFORMANCE
    kind: Literal["resources"] = "resources"
    source: Literal["prometheus", "cgroup"] = "prometheus"
    metrics_path: str = "/metrics"  # prometheus: under the component's url
    cgroup_dir: str = "/sys/fs/cgroup"  # cgroup: the directory of the service's cgroup (v2) as Vigil sees it
    memory_limit: Bytes | None = None  # prometheus: the limit usage is judged against; cgroup: when memory.max is max
    cpu_limit: float | None = Field(default=None, gt=0.0)  # cores; as memory_limit (cgroup: when cpu.max is max)
    max_memory_ratio: float = Field(default=0.8, gt=0.0, le=1.0)  # fail above this share of the memory limit
    max_cpu_ratio: float = Field(default=0.7, gt=0.0, le=1.0)  # fail above this share of the CPU limit
    warn_fraction: float = Field(default=0.9, gt=0.0, le=1.0)  # warn above this fraction of either maximum
    request_timeout: Duration = Field(default=2.0, gt=0.0)  # prometheus: the scrape

    @model_validator(mode="after")
    def _prometheus_needs_a_limit(self) -> Self:
        if self.source == "prometheus" and self.memory_limit is None and self.cpu_limit is None:
            raise ValueError(
                "memory_limit: set memory_limit or cpu_limit (or both); the process metrics give usage, not limits"
            )
        return self

    def schedule_problems(self, schedule: Schedule) -> list[tuple[str, str]]:
        if self.source == "prometheus":
            return _longer_than(schedule, self.request_timeout, "request_timeout")
        return []


AnyHttpCheck = HttpReachable | HttpCors | HttpJwt | HttpWebSocket | HttpTls | HttpHttps | HttpLatency | HttpResources
HttpCheck = Annotated[AnyHttpCheck, Field(discriminator="kind")]


def _default_checks() -> dict[str, AnyHttpCheck]:
    return {"reachable": HttpReachable()}


class HttpComponent(ComponentConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("bearer_token",)

    type: Literal["http"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    bearer_token: SecretStr | None = None  # sent as `Authorization: Bearer …` (reachable, and websocket without auth)
    verify_tls: bool = True
    tls_ca_file: str | None = None  # CA bundle for a private CA (default: the system's)
    max_connections: int = Field(default=4, ge=1, le=100)
    connect_timeout: Duration = 1.0
    checks: dict[str, HttpCheck] = Field(default_factory=_default_checks)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return url

    @model_validator(mode="after")
    def _kinds_fit_the_component(self) -> Self:
        for name, check in self.checks.items():
            if isinstance(check, HttpTls | HttpHttps) and urlsplit(self.url).scheme != "https":
                raise ValueError(
                    f"checks.{name}: a {check.kind} check needs an https:// url (the component's is http://)"
                )
            if isinstance(check, HttpLatency) and check.concurrency > self.max_connections:
                raise ValueError(
                    f"checks.{name}.concurrency: {check.concurrency} is more than max_connections "
                    f"({self.max_connections}); requests would queue for a connection and the wait count as latency"
                )
        return self

    @model_validator(mode="after")
    def _websocket_auth_refers_to_a_jwt_check(self) -> Self:
        for name, check in self.checks.items():
            if not isinstance(check, HttpWebSocket) or check.auth is None:
                continue
            target = self.checks.get(check.auth.check)
            if target is None:
                raise ValueError(f"checks.{name}.auth.check: no check named {check.auth.check!r} in this component")
            if not isinstance(target, HttpJwt):
                raise ValueError(
                    f"checks.{name}.auth.check: {check.auth.check!r} is a {target.kind} check; the token comes from a jwt check"
                )
        return self

    @property
    def socket_deadline(self) -> float:
        return self.connect_timeout

    def secret_values(self) -> list[str]:
        values = super().secret_values()
        if password := urlsplit(self.url).password:
            values.append(password)
        # Credentials in plain headers (Authorization, X-Api-Key, ...) are masked like any other secret.
        for name, value in self.headers.items():
            if SENSITIVE_HEADER.search(name):
                values.append(value)
                scheme, _, credential = value.partition(" ")
                if credential and scheme.lower() in ("bearer", "basic", "token"):
                    values.append(credential)
        return values

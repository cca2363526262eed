"""The `http` component's configuration: the component model and the options of its check kinds (those of the
production-readiness kinds, tls, https, latency and resources, in readiness_config.py).

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

from app.checks.http.production_config import HttpHttps, HttpLatency, HttpResources, HttpTls, longer_than
from app.config.fields import Area, CaFile, CheckConfig, ComponentConfig, Duration, Frozen, Schedule, SecretFields

SENSITIVE_HEADER = re.compile(r"auth|token|secret|key|pass|session|cookie", re.I)  # X-Custom-Auth, X-Session-Id...
HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # an HTTP token (RFC 9110 5.6.2)

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
    if not HEADER_NAME.fullmatch(value):
        raise ValueError(f"{value!r} is not an HTTP header name")
    return value


def _one_or_more(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Origin = Annotated[str, AfterValidator(_origin)]
HeaderName = Annotated[str, AfterValidator(_header_name)]
Timeout = Annotated[float, Field(gt=0.0)]


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
    follow_redirects: bool = False  # to the component's own origin only, unless listed in redirect_origins
    redirect_origins: list[Origin] = Field(default_factory=list)  # other origins a redirect may lead to (no headers)
    max_redirects: int = Field(default=3, ge=0, le=10)

    @model_validator(mode="after")
    def _head_has_no_body(self) -> Self:
        if self.method == "HEAD" and (self.body_contains or self.json_fields):
            raise ValueError("method: a HEAD answer has no body; body_contains and json_fields need GET or POST")
        if self.redirect_origins and not self.follow_redirects:
            raise ValueError("redirect_origins: redirects are followed only with follow_redirects: true")
        return self


class CorsRoute(Frozen):
    """A request the browser frontend really sends: its method and the headers it adds."""

    path: str = Field(min_length=1)
    method: Method = "GET"
    headers: list[HeaderName] = Field(default_factory=list)  # what the browser lists in Access-Control-Request-Headers


class HttpCors(CheckConfig):
    """Preflights as a browser sends them, per route and allowed origin; a disallowed origin must never be echoed."""

    default_area: ClassVar[Area | None] = Area.COMMUNICATION
    inner_timeouts: ClassVar[tuple[tuple[str, float], ...]] = (("request_timeout", 0.8),)
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
        return longer_than(schedule, self.request_timeout, "request_timeout")


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
    inner_timeouts: ClassVar[tuple[tuple[str, float], ...]] = (("token.timeout", 0.4), ("request_timeout", 0.4))
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
            return longer_than(schedule, self.request_timeout, "request_timeout")
        return longer_than(schedule, self.token.timeout + self.request_timeout, "token.timeout + request_timeout")


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
    inner_timeouts: ClassVar[tuple[tuple[str, float], ...]] = (("handshake_timeout", 0.4), ("reply_timeout", 0.4))
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
        return longer_than(schedule, self.handshake_timeout + self.reply_timeout, "handshake_timeout + reply_timeout")


AnyHttpCheck = HttpReachable | HttpCors | HttpJwt | HttpWebSocket | HttpTls | HttpHttps | HttpLatency | HttpResources
HttpCheck = Annotated[AnyHttpCheck, Field(discriminator="kind")]


def _default_checks() -> dict[str, AnyHttpCheck]:
    return {"reachable": HttpReachable()}


class HttpComponent(ComponentConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("bearer_token",)
    timeout_chain: ClassVar[tuple[tuple[str, str | None, float], ...]] = (("connect_timeout", None, 0.5),)

    type: Literal["http"]
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    bearer_token: SecretStr | None = None  # sent as `Authorization: Bearer …` (reachable, and websocket without auth)
    verify_tls: bool = True
    tls_ca_file: CaFile = None  # CA bundle for a private CA (default: the system's)
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

"""create_app(settings): builds store, scheduler, verifier and metrics registry, wires the routers.

The lifespan starts the scheduler and stops it (cancelling runs, closing clients) on shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import __version__
from app.api import health, probes, runs, status
from app.api.auth import AuthError, Verifier
from app.api.deps import NotFound, Services, Turns
from app.config.settings import Settings
from app.config.specs import CheckSpec, resolve
from app.engine.scheduler import Scheduler
from app.engine.store import Store
from app.masking import Scrubber
from app.views.metrics import build_exposition
from app.views.report import EntryMemo


def build_engine(
    settings: Settings, specs: list[CheckSpec] | None = None, *, seed: int | None = None
) -> tuple[Store, Scheduler]:
    """The store and the scheduler for `specs` (default: every configured check); the CLI builds the same pair."""
    specs = resolve(settings) if specs is None else specs
    store = Store(specs, history=settings.defaults.history)
    scrubber = Scrubber(settings.secret_values())
    scheduler = Scheduler(specs, store, scrubber, jitter=settings.defaults.jitter, seed=seed)
    return store, scheduler


def create_app(settings: Settings) -> FastAPI:
    store, scheduler = build_engine(settings)
    exposition = build_exposition(store)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await scheduler.start()
        try:
            yield
        finally:
            # Half the shutdown budget: the CLI spends the rest draining readiness and in-flight requests.
            await scheduler.stop(grace=settings.server.shutdown_grace / 2)
            exposition.close()

    # FastAPIOffline serves Swagger UI and ReDoc from assets in the package: /docs works in an air-gapped cluster.
    app = FastAPIOffline(
        title="Vigil",
        version=__version__,
        description="Health checks and readiness for a system's dependencies.",
        lifespan=lifespan,
    )
    app.state.services = Services(settings, store, scheduler, Verifier(settings.auth), Turns(), EntryMemo())
    app.include_router(probes.router)
    app.include_router(health.router)
    app.include_router(runs.router)
    app.include_router(status.router)

    @app.get(
        "/metrics",
        tags=["metrics"],
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"description": "the text exposition format", "content": {CONTENT_TYPE_LATEST: {}}}},
    )
    async def metrics(request: Request) -> Response:
        # Content negotiation as the Prometheus server does it: OpenMetrics when asked for, gzip when accepted.
        openmetrics = "application/openmetrics-text" in request.headers.get("accept", "")
        gzip = "gzip" in request.headers.get("accept-encoding", "")
        body = await exposition.render(openmetrics=openmetrics, gzip=gzip)
        headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if gzip else {"Vary": "Accept-Encoding"}
        media_type = OPENMETRICS_CONTENT_TYPE if openmetrics else CONTENT_TYPE_LATEST
        return Response(body, media_type=media_type, headers=headers)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"error": "not_found", "detail": exc.detail}, status_code=404)

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError) -> JSONResponse:
        headers = {"WWW-Authenticate": exc.www_authenticate()} if exc.status == 401 else {}
        return JSONResponse({"error": exc.error, "detail": exc.detail}, status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": error, "detail": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        return JSONResponse({"error": "bad_request", "detail": problems}, status_code=400)

    app.add_middleware(probes.ProbeFastPath, store=store)
    app.openapi = lambda: truthful_openapi(app)  # type: ignore[method-assign]
    return app


_ERROR_REF = "#/components/schemas/ErrorBody"


def truthful_openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI documents a 422 for every route with parameters; Vigil answers a bad request with a 400 and the
    error body, so the schema says that instead (built once, then cached like FastAPI's own)."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.get("responses", {})
                if responses.pop("422", None) is not None and "400" not in responses:
                    responses["400"] = {"description": "malformed parameters"}
                for response in responses.values():
                    # Error bodies are plain JSON whatever the route's own media type (health+json, text).
                    content = response.get("content", {})
                    if response.get("description") == "malformed parameters" or any(
                        media.get("schema", {}).get("$ref") == _ERROR_REF for media in content.values()
                    ):
                        response["content"] = {"application/json": {"schema": {"$ref": _ERROR_REF}}}
        component_schemas = schema.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            component_schemas.pop(name, None)
        app.openapi_schema = schema
    return app.openapi_schema

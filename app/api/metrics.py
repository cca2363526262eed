"""GET /metrics: the Prometheus exposition, negotiated as the Prometheus server asks for it.

The render (a worker thread, single-flight per format) is app.views.metrics.Exposition's; this is only the route.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.openmetrics.exposition import CONTENT_TYPE_LATEST as OPENMETRICS_CONTENT_TYPE

from app.views.metrics import Exposition

router = APIRouter(tags=["metrics"])


def _exposition(request: Request) -> Exposition:
    exposition = request.app.state.exposition
    if not isinstance(exposition, Exposition):  # create_app sets it; anything else is a wiring bug
        raise TypeError("app.state.exposition is not set: build the app with create_app()")
    return exposition


ExpositionDep = Annotated[Exposition, Depends(_exposition)]


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"description": "the text exposition format", "content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(request: Request, exposition: ExpositionDep) -> Response:
    # OpenMetrics when asked for, gzip when accepted (Prometheus always accepts it).
    openmetrics = "application/openmetrics-text" in request.headers.get("accept", "")
    gzip = "gzip" in request.headers.get("accept-encoding", "")
    body = await exposition.render(openmetrics=openmetrics, gzip=gzip)
    headers = {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if gzip else {"Vary": "Accept-Encoding"}
    media_type = OPENMETRICS_CONTENT_TYPE if openmetrics else CONTENT_TYPE_LATEST
    return Response(body, media_type=media_type, headers=headers)

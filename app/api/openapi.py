"""/openapi.json as Vigil answers: a bad request is a 400 with the error body, never FastAPI's 422."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

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


def install(app: FastAPI) -> None:
    app.openapi = lambda: truthful_openapi(app)  # type: ignore[method-assign]

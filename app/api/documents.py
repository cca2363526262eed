"""Response bodies as documented in /openapi.json: the error body, and the documents the views build.

The health+json and /status.json shapes are the typed dicts the views build (app/views/shapes.py): one declaration,
so the schema is what is sent.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.views.shapes import HealthDocument, StatusDocument


class ErrorBody(BaseModel):
    """Every 4xx: a short machine-readable code and a reason (a list of problems for a bad request)."""

    error: str = Field(examples=["not_found"])
    detail: str | list[str] = Field(examples=["unknown component 'nope'"])


Responses = dict[int | str, dict[str, Any]]


def error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


def health_body(description: str) -> dict[str, Any]:
    return {"model": HealthDocument, "description": description, "content": {"application/health+json": {}}}


def status_body(description: str) -> dict[str, Any]:
    return {"model": StatusDocument, "description": description, "content": {"application/json": {}}}


def text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


NOT_FOUND: Responses = {404: error("unknown component or check")}
BAD_REQUEST: Responses = {400: error("malformed query parameters")}

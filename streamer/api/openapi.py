"""The OpenAPI schema as the server really answers: FastAPI documents a 422 for every route
with parameters, but our validation errors are 400 `{"error"}`; and it knows nothing of the
API key, of 404 for an unknown transcript, of 413 for an upload that is too large, of 429
for a key past its job limit, or of 503 while the models load."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from streamer.api.auth import PROTECTED_PREFIXES

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}
_ERROR = {"$ref": "#/components/schemas/Error"}


def error_response(description: str) -> dict[str, Any]:
    """A documented `{"error"}` response, for a route's `responses=`."""
    return {"description": description, "content": {"application/json": {"schema": _ERROR}}}


RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}
"""A route's `openapi_extra` when its raw body is the file (`/v2/upload`, `/v2/voices`)."""


def _statuses(path: str, method: str) -> dict[str, dict[str, Any]]:
    """The error statuses an operation answers besides its success."""
    if path == "/healthz":
        loading = {"type": "object", "properties": {"status": {"type": "string"}}}
        return {
            "503": {
                "description": "The models are still loading",
                "content": {"application/json": {"schema": loading}},
            }
        }
    statuses = {
        "400": error_response("Invalid parameters or body, or a transcript not completed yet"),
        "401": error_response("Missing or invalid API key"),
    }
    if "{transcript_id}" in path:
        statuses["404"] = error_response("No such transcript")
    if path == "/v2/upload" and method == "post":
        statuses["413"] = error_response("The upload is larger than the server accepts")
    if path == "/v2/transcript" and method == "post":
        statuses["429"] = error_response("The API key has as many transcripts queued as allowed")
    return statuses


def documented_openapi(app: FastAPI) -> dict[str, Any]:
    """The schema FastAPI builds for `app`, with the responses the server really gives."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    schema = get_openapi(title=app.title, version=app.version, routes=app.routes)
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Error"] = ERROR_SCHEMA
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": "Authorization"}
    }
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses.update(_statuses(path, method))
            if path.startswith(PROTECTED_PREFIXES):
                operation["security"] = [{"ApiKey": []}]
    app.openapi_schema = schema
    return schema

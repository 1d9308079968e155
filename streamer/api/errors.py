"""Every HTTP error as AssemblyAI shapes it: `{"error": "..."}` with a 4xx or 5xx status."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def first_problem(error: ValidationError | RequestValidationError) -> str:
    """The first thing wrong with a request, in one line: "invalid FIELD: WHY"."""
    first = error.errors()[0]
    where = ".".join(str(p) for p in first["loc"] if p not in ("query", "path", "body"))
    return f"invalid {where}: {first['msg']}"


def error_body(message: str) -> dict[str, str]:
    """The body of every HTTP error, as AssemblyAI's."""
    return {"error": message}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(_: Request, error: ApiError) -> JSONResponse:
        return JSONResponse(error_body(error.message), status_code=error.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(first_problem(error)), status_code=400)

    @app.exception_handler(HTTPException)
    async def http_error(_: Request, error: HTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(str(error.detail)), status_code=error.status_code, headers=error.headers
        )

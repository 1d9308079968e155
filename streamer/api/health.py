"""HTTP routes. `/healthz` says whether the models are loaded."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from streamer.api.wire import health_json

health_router = APIRouter()


@health_router.get("/healthz")
async def healthz(request: Request) -> JSONResponse:
    if request.app.state.models is None:
        return JSONResponse(health_json("loading"), status_code=503)
    return JSONResponse(health_json("ok"))

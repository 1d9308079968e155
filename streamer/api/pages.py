"""The browser pages: live captions and the files view at `/`, their plain files under
`/static/`, and the API docs at `/docs` with Swagger UI served from the installed
`fastapi-offline` package. Nothing a page loads comes from another host. (No ReDoc: its
bundle loads a logo from its vendor's CDN.)"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

from streamer.api.errors import ApiError

STATIC_DIR = Path(__file__).with_name("static")
DOCS_ASSETS_DIR = Path(str(files("fastapi_offline").joinpath("static")))
"""Swagger UI 5 (it reads OpenAPI 3.1) and a favicon, as the pinned package ships them."""
DOCS_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "favicon.png")
DOCS_PREFIX = "docs/"

PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
"""The browser refuses anything the caption page would load from elsewhere (WebSockets to
this host are 'self')."""
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'"
)
"""The same for Swagger UI, whose page FastAPI writes with an inline script."""
REVALIDATE = {"Cache-Control": "no-cache"}
"""Cached, but checked (ETag) each time, so a new version of the pages shows at once."""


def _assets() -> dict[str, Path]:
    """Every file that `/static/NAME` may answer, by NAME: a fixed list, so no request path
    reaches the file system."""
    ours = {
        path.relative_to(STATIC_DIR).as_posix(): path
        for path in STATIC_DIR.rglob("*")
        if path.is_file() and path.name != "index.html"
    }
    docs = {DOCS_PREFIX + name: DOCS_ASSETS_DIR / name for name in DOCS_ASSETS}
    return ours | docs


ASSETS = _assets()

pages_router = APIRouter(include_in_schema=False)


@pages_router.get("/")
async def captions_page() -> FileResponse:
    return FileResponse(
        STATIC_DIR / "index.html",
        media_type="text/html",
        headers={**REVALIDATE, "Content-Security-Policy": PAGE_POLICY},
    )


@pages_router.get("/static/{name:path}")
async def static_asset(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:
        raise ApiError(404, f"no such file: {name}")
    # text/javascript whatever the host's mimetypes say: module scripts need a JS type
    media_type = "text/javascript" if path.suffix in {".js", ".mjs"} else None
    return FileResponse(path, media_type=media_type, headers=REVALIDATE)


@pages_router.get("/docs")
async def swagger_ui(request: Request) -> HTMLResponse:
    page = get_swagger_ui_html(
        openapi_url=_root(request) + "/openapi.json",
        title=f"{request.app.title} - Swagger UI",
        swagger_js_url=_asset_url(request, "swagger-ui-bundle.js"),
        swagger_css_url=_asset_url(request, "swagger-ui.css"),
        swagger_favicon_url=_asset_url(request, "favicon.png"),
        swagger_ui_parameters={"validatorUrl": None},  # no badge fetched from a validator
    )
    page.headers["Content-Security-Policy"] = DOCS_POLICY
    return page


def _root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def _asset_url(request: Request, name: str) -> str:
    return f"{_root(request)}/static/{DOCS_PREFIX}{name}"

"""The API documentation pages, /docs (Swagger UI) and /redoc, with their scripts served by this application
from the fastapi-offline package's copy, not a CDN: an office network without the internet still shows
them. FastAPI's own page builders draw the HTML; two routes hand out the package's files by name (no static
mount: the files are three, fixed)."""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI, HTTPException
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSET_PATH = "/docs-assets"
_FILES = {"swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js", "favicon.png"}


def install(app: FastAPI) -> None:
    title = app.title
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} - Swagger UI",
            swagger_js_url=f"{ASSET_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSET_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSET_PATH}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} - ReDoc",
            redoc_js_url=f"{ASSET_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSET_PATH}/favicon.png",
            with_google_fonts=False,
        )

    @app.get(ASSET_PATH + "/{name}", include_in_schema=False)
    def asset(name: str) -> FileResponse:
        if name not in _FILES:
            raise HTTPException(status_code=404)
        return FileResponse(ASSETS / name, headers={"Cache-Control": "public, max-age=86400"})

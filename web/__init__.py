"""Server-rendered pages (zh-CN) for staff, supervisors, administrators and the public.

Pages call the same domain services as the API; ``install`` adds their routes to the FastAPI app.
"""

from __future__ import annotations

from fastapi import FastAPI

from web import admin, auth, oversight, public, staff


def install(app: FastAPI) -> None:
    for module in (auth, staff, oversight, public, admin):
        app.include_router(module.router)

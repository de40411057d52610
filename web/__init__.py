"""Server-rendered pages (zh-CN) for staff, supervisors, administrators and the public.

Pages call the same domain services as the API; ``install`` adds their routes to the FastAPI app.
"""

from __future__ import annotations

from fastapi import FastAPI

from web import admin, admin_platform, auth, imports, oversight, public, staff


def install(app: FastAPI) -> None:
    # imports before staff: its fixed paths (/staff/pledges/import) go before any /staff/pledges/{id}.
    for module in (auth, imports, staff, oversight, public, admin, admin_platform):
        app.include_router(module.router)

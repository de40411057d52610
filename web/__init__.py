"""Server-rendered pages (zh-CN) for staff, supervisors, administrators and the public.

Pages call the same domain services as the API; ``install`` adds their routes to the FastAPI app.
"""

from __future__ import annotations

from fastapi import FastAPI

from web import (
    admin,
    admin_calendar,
    admin_hotline,
    admin_platform,
    auth,
    complaint_password,
    core,
    files,
    imports,
    oversight,
    public,
    public_complaints,
    staff,
    staff_breaches,
    staff_pledges,
)


def install(app: FastAPI) -> None:
    # imports and staff before staff_pledges: their fixed paths (/staff/pledges/import, /staff/pledges/new)
    # go before /staff/pledges/{pledge_id}.
    for module in (
        auth,
        imports,
        staff,
        complaint_password,
        staff_pledges,
        staff_breaches,
        files,
        oversight,
        public,
        public_complaints,
        admin,
        admin_calendar,
        admin_platform,
        admin_hotline,
    ):
        app.include_router(module.router)
    core.install_page_errors(app)

"""The FastAPI application. Routes are thin: they parse, call a domain service, and shape the answer."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.engine import Engine

import web
from api import docs, errors
from api.body_limit import BodyLimit
from api.routes import (
    admin,
    complaints,
    evidence,
    exports,
    government_credit,
    health,
    imports,
    intake,
    pledges,
    public,
    tasks,
)
from models.clock import Clock
from models.db import get_engine
from models.privacy import install_log_scrubber
from models.schema import check_up_to_date

API_PREFIX = "/api/v1"

DESCRIPTION = """
守信（Shouxin）政务诚信案件办理平台 API：政府违约失信投诉、告知承诺及失信公示。

认证：`Authorization: Bearer <令牌>`，令牌由 `shouxin users add` 生成。
"""


def create_app(
    *, engine: Engine | None = None, clock: Clock | None = None, check_schema: bool = True
) -> FastAPI:
    """Build the app; refuses to start on a database whose schema is behind the code."""
    engine = engine or get_engine()
    if check_schema:
        check_up_to_date(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        # What start-up built (modules, routes, models, the engine: ~200,000 objects) lives as long as the
        # process. Left to the collector, every full collection walked all of it while requests waited:
        # ~100 ms once every few thousand requests, the p99 of benchmark 3 (docs/benchmarks.md). Frozen
        # (the standard library's gc.freeze), a full collection walks only what requests allocated.
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()  # an app started and stopped in a longer process (tests) leaves nothing frozen

    app = FastAPI(
        title="守信 Shouxin",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        responses=errors.ERROR_RESPONSES,
        # FastAPI's own pages load Swagger UI and ReDoc from a CDN, blank on an office network without the
        # internet: api/docs.py serves them from the installed fastapi-offline package instead.
        docs_url=None,
        redoc_url=None,
    )
    docs.install(app)
    app.state.engine = engine
    app.state.clock = clock or Clock.from_settings()
    errors.install(app)
    app.add_middleware(BodyLimit)
    install_log_scrubber()
    # imports before pledges: /pledges/imports must not be taken for /pledges/{pledge_id}.
    for module in (
        health, exports, complaints, tasks, imports, pledges, evidence, public, government_credit, admin,
        intake,
    ):  # fmt: skip
        app.include_router(module.router, prefix=API_PREFIX)
    web.install(app)
    return app

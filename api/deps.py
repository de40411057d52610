"""Dependencies shared by the routes: session, calendar, clock, the acting user."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Header, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.body_limit import too_large
from models.accounts import TokenIdentity, token_identity
from models.calendar import WorkCalendar, load_calendar
from models.clock import Clock
from models.errors import NotPermitted, Unauthenticated
from models.lifecycle import MACHINE_ROLES, Role
from models.org import User
from models.settings import get_settings
from models.workflow import Actor

T = TypeVar("T")


# Dependencies that neither block nor touch the database are ``async def``: FastAPI runs a plain ``def``
# dependency in the thread pool, and each such hop cost more CPU than the work it did (docs/benchmarks.md).
async def get_engine_dep(request: Request) -> Engine:
    engine: Engine = request.app.state.engine
    return engine


async def get_session(request: Request) -> AsyncIterator[Session]:
    # The engine straight from the app rather than through ``get_engine_dep``: every dependency in the
    # graph costs FastAPI's solver time on each request. Creating a session does no I/O (it connects on
    # first use). Closing it returns the connection with a rollback: on a server that may wait on the
    # network, so it runs in the thread pool; an SQLite rollback is a local call (and a no-op after the
    # commit), cheaper than the hop.
    engine: Engine = request.app.state.engine
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if engine.dialect.name == "sqlite":
            session.close()
        else:
            await run_in_threadpool(session.close)


async def _read(session: Session, read: Callable[[], T]) -> T:
    """Run a dependency's short database read: in place on a SQLite file, in the thread pool elsewhere.

    A point read on SQLite is a local library call of a few tens of microseconds, and WAL readers never
    wait for writers; FastAPI would run a plain ``def`` dependency in a thread-pool hop of its own, which
    cost more than the read. With the token and the calendar read in place, a request makes one hop
    (its endpoint) instead of three; under concurrent load the extra hops were the largest part of the
    API's CPU per request and of its tail latency (docs/benchmarks.md, benchmark 3). A server database may
    wait on the network, so there the read keeps its hop."""
    bind = session.get_bind()
    if bind.dialect.name == "sqlite":
        return read()
    return await run_in_threadpool(read)


SessionDep = Annotated[Session, Depends(get_session)]


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


ClockDep = Annotated[Clock, Depends(get_clock)]


async def get_today(request: Request) -> dt.date:
    clock: Clock = request.app.state.clock  # as get_clock, one dependency fewer to solve per request
    return clock.today()


TodayDep = Annotated[dt.date, Depends(get_today)]


async def get_calendar(session: SessionDep) -> WorkCalendar:
    return await _read(session, lambda: load_calendar(session=session))


CalendarDep = Annotated[WorkCalendar, Depends(get_calendar)]

_bearer = HTTPBearer(auto_error=False, description="`shouxin users add` 打印的访问令牌")


def actor_of(user: User | TokenIdentity) -> Actor:
    return Actor(name=user.name, role=user.role, id=user.id, department_id=user.department_id)


async def get_actor(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Actor:
    # One Core row per request (models.accounts.token_identity), not an ORM User: the token is checked on
    # every API call.
    if credentials is None:
        raise Unauthenticated("请先登录：请求头需要 `Authorization: Bearer <令牌>` (missing bearer token)")
    token = credentials.credentials
    identity = await _read(session, lambda: token_identity(session=session, token=token))
    if identity is None:
        raise Unauthenticated("访问令牌无效或账号已停用，请联系管理员 (invalid or revoked token)")
    if identity.role in MACHINE_ROLES:  # another system's token calls its own endpoint only
        raise NotPermitted(
            "该令牌属于对接系统，只能调用其专用接口 (a machine token may call only its own endpoint)"
        )
    return actor_of(identity)


ActorDep = Annotated[Actor, Depends(get_actor)]


def require_roles(*roles: Role):  # type: ignore[no-untyped-def]
    """A dependency refusing any role not listed (403 with the roles that may)."""

    async def check(actor: ActorDep) -> Actor:
        if actor.role not in roles:
            raise NotPermitted(
                f"当前账号角色无权访问此功能；允许的角色：{', '.join(roles)} "
                f"(role '{actor.role}' not allowed)"
            )
        return actor

    return Depends(check)


async def read_upload(file: UploadFile, limit: int | None = None) -> bytes:
    """The upload's bytes (at most ``limit``, by default ``upload_max_bytes``; over it: 413), reading one
    byte past the limit at most. The body around it was capped as it arrived (api/body_limit.py); the
    services check the size again for other callers."""
    limit = get_settings().upload_max_bytes if limit is None else limit
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise too_large(limit)
    return content


def no_store(response: Response) -> None:
    """For a response that carries a secret shown once (a tracking password, an access code): no browser
    cache, history or proxy may keep a copy."""
    response.headers["Cache-Control"] = "no-store"


# A client's key for one intended write (a registration, a code re-issue): a repeat with the same key by the
# same account (a retry after a lost answer, a double click) answers the first result and does nothing
# again. Random, e.g. a UUID. Each route's docstring says what its repeat answers.
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=8,
        max_length=128,
        pattern=r"^[\x21-\x7e]+$",
        description=(
            "幂等键（如 UUID，8–128 个可见 ASCII 字符）；同一账号以同一键重复提交，"
            "返回首次提交的结果，不再重复办理"
        ),
    ),
]

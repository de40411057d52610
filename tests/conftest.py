"""Shared fixtures: a fresh database per test, a pinned clock, the app, and staff of every role."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import settings
from prefect.logging.configuration import ensure_logging_setup
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel

import models.tables  # noqa: F401
import notifications.sink  # noqa: F401
from api.main import create_app
from models.accounts import create_user, import_departments
from models.calendar import WorkCalendar, load_calendar
from models.clock import Clock
from models.db import create_sqlite_file, get_engine, make_engine
from models.lifecycle import Role
from models.org import DepartmentCreate, DepartmentLevel, UserCreate
from models.settings import get_settings

# No wall-clock deadline per example (Hypothesis fails one that takes over 200 ms): on CI's two shared cores
# a descheduled test thread can pass that for a computation of microseconds, and a test must not be timed.
settings.register_profile("shouxin", deadline=None)
settings.load_profile("shouxin")

# Prefect configures logging once per process, when first imported: its console handler on the root logger
# keeps the ``sys.stderr`` of that moment. The commands import their flows lazily, so in a session where the
# first import happens inside `CliRunner.invoke` the handler keeps the runner's stderr, closed once the
# command returns, and every later warning (a command's `log.error` too) prints "--- Logging error ---" into
# the stderr of whichever command runs then. Configured here, before any test, it keeps the session's.
ensure_logging_setup()

TODAY = dt.date(2026, 3, 2)  # a Monday, a working day after Spring Festival


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for var in ("SHOUXIN_TODAY", "SHOUXIN_DATABASE_URL", "SHOUXIN_MAIL_SINK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SHOUXIN_UPLOAD_DIR", str(tmp_path / "uploads"))
    # The office a credit-platform feed names as its source: start-up refuses a feed without it, and many
    # tests point the feed at a local server.
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SOURCE_NAME", "示范市社会信用体系建设领导小组办公室")
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SOURCE_CODE", "11150100MB0000000H")
    database_url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", database_url)
    # The settings' database exists, empty (engines never create a SQLite file; `shouxin db upgrade` does).
    create_sqlite_file(database_url)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield
    get_settings.cache_clear()
    get_engine.cache_clear()


# Every test that uses ``engine`` runs once per backend; `make test` runs both, a quick local run can set
# SHOUXIN_TEST_BACKENDS=sqlite. The PostgreSQL server is started only if a postgres test is collected.
BACKENDS = [
    pytest.param(name, marks=[pytest.mark.postgres] if name == "postgres" else [])
    for name in os.environ.get("SHOUXIN_TEST_BACKENDS", "sqlite,postgres").replace(" ", "").split(",")
    if name
]


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """One throwaway PostgreSQL server per session; the schema is built by the migrations, so every
    PostgreSQL test run also checks that the migrations apply on PostgreSQL."""
    from models.schema import upgrade
    from tests.pgserver import running_server

    with running_server() as server:
        server.create_database("shouxin_test")
        url = server.url("shouxin_test")
        eng = make_engine(url)
        upgrade(eng)
        eng.dispose()
        yield url


_EMPTY_SQL: dict[tuple[str, int], str] = {}


def empty_pg_database(eng: Engine) -> None:
    """Delete every row and restart every sequence, so ids start at 1 as on a fresh SQLite database.

    One round trip of DELETEs takes ~10 ms on these small tables, TRUNCATE ~150 ms (it swaps files) and a
    new database from a template more; the replica role skips foreign-key triggers, so order is free.
    """
    # Keyed on the table count too: a test module may import a model that adds a table.
    key = (eng.url.render_as_string(hide_password=False), len(SQLModel.metadata.tables))
    if key not in _EMPTY_SQL:
        quote = eng.dialect.identifier_preparer.quote
        with eng.connect() as conn:
            sequences = [
                r[0] for r in conn.execute(text("SELECT quote_ident(sequencename) FROM pg_sequences"))
            ]
        _EMPTY_SQL[key] = "".join(
            ["SET LOCAL lock_timeout = '10s';", "SET LOCAL session_replication_role = replica;"]
            + [f"DELETE FROM {quote(t.name)};" for t in SQLModel.metadata.sorted_tables]
            + [f"ALTER SEQUENCE {name} RESTART;" for name in sequences]
        )
    with eng.begin() as conn:
        conn.exec_driver_sql(_EMPTY_SQL[key])


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A fresh, empty database with all tables: in-memory SQLite, or the session's PostgreSQL emptied."""
    if request.param == "postgres":
        eng = make_engine(request.getfixturevalue("pg_url"))
        empty_pg_database(eng)
    else:
        eng = make_engine("sqlite://", poolclass=StaticPool)
        SQLModel.metadata.create_all(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as s:
        yield s


@pytest.fixture
def today() -> dt.date:
    return TODAY


@pytest.fixture
def clock(today: dt.date) -> Clock:
    return Clock.from_settings().__class__(tz=Clock.from_settings().tz, pinned_today=today)


@pytest.fixture
def calendar(session: Session) -> WorkCalendar:
    return load_calendar(session=session)


@dataclass
class Staff:
    """Tokens of one user per role; handlers of two departments to test department isolation."""

    intake: str
    supervisor: str
    admin: str
    handler: str  # department D01 (lead)
    handler2: str  # department D02
    competent: str  # department D00, the competent department of D01

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {getattr(self, who)}"}


DEPARTMENTS = [
    DepartmentCreate(
        code="D00", name="市发展和改革委员会", level=DepartmentLevel.CITY, email="fgw@example.gov.cn"
    ),
    DepartmentCreate(
        code="D01",
        name="市住房和城乡建设局",
        level=DepartmentLevel.CITY,
        email="zjj@example.gov.cn",
        competent_code="D00",
    ),
    DepartmentCreate(
        code="D02",
        name="市财政局",
        level=DepartmentLevel.CITY,
        email="czj@example.gov.cn",
        competent_code="D00",
    ),
    DepartmentCreate(code="K01", name="新城区人民政府", level=DepartmentLevel.COUNTY, email=None),
]


@pytest.fixture
def staff(session: Session) -> Staff:
    import_departments(session=session, items=DEPARTMENTS)

    def make(name: str, role: Role, dept: str | None = None) -> str:
        _, token = create_user(
            session=session,
            data=UserCreate(name=name, role=role, department_code=dept, email=f"{name}@example.gov.cn"),
        )
        return token

    result = Staff(
        intake=make("受理员小王", Role.INTAKE),
        supervisor=make("督办员老李", Role.SUPERVISOR),
        admin=make("管理员", Role.ADMIN),
        handler=make("住建经办人", Role.HANDLER, "D01"),
        handler2=make("财政经办人", Role.HANDLER, "D02"),
        competent=make("发改经办人", Role.HANDLER, "D00"),
    )
    session.commit()
    return result


@pytest.fixture
def client(engine: Engine, clock: Clock) -> Iterator[TestClient]:
    app = create_app(engine=engine, clock=clock, check_schema=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def prefect_harness() -> Iterator[None]:
    """One temporary Prefect server for the whole session (starting one costs ~15 s)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(params=BACKENDS)
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A new empty SQLite file, or a new database on the session's PostgreSQL server (its own database
    holds the schema at head, which a migration test must not take back): for upgrades from an older
    revision with rows in it."""
    if request.param != "postgres":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        create_sqlite_file(url)
        yield url
        return
    server = make_url(request.getfixturevalue("pg_url"))
    name = f"migration_{uuid.uuid4().hex[:12]}"
    admin = make_engine(server.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

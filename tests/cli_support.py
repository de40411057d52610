"""A database the `shouxin` commands and the test share, on each backend: the CLI opens the settings'
``SHOUXIN_DATABASE_URL`` (``get_engine``), so the test's ``engine`` must be that database, not the
in-memory one of tests/conftest.py. A test module overrides ``engine`` with it by importing
``cli_engine`` (``from tests.cli_support import cli_engine  # noqa: F401``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from models.db import get_engine, make_engine
from models.settings import get_settings
from tests.conftest import BACKENDS, empty_pg_database


@pytest.fixture(params=BACKENDS, name="engine")
def cli_engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The SQLite file the autouse settings fixture created, or the session's PostgreSQL emptied, and
    ``SHOUXIN_DATABASE_URL`` naming it; rich tables as wide as their rows, as in a wide terminal."""
    monkeypatch.setenv("COLUMNS", "240")
    if request.param == "postgres":
        monkeypatch.setenv("SHOUXIN_DATABASE_URL", request.getfixturevalue("pg_url"))
        get_settings.cache_clear()
        get_engine.cache_clear()
    eng = make_engine(get_settings().database_url)
    if request.param == "postgres":
        empty_pg_database(eng)
    else:
        SQLModel.metadata.create_all(eng)
    yield eng
    eng.dispose()
    get_engine().dispose()

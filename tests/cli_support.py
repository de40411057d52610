"""A database the `shouxin` commands and the test share, on each backend: the CLI opens the settings'
``SHOUXIN_DATABASE_URL`` (``get_engine``), so the test's ``engine`` must be that database, not the
in-memory one of tests/conftest.py. A test module overrides ``engine`` with it by importing
``cli_engine`` (``from tests.cli_support import cli_engine  # noqa: F401``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import typer
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel
from typer.testing import CliRunner, Result

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


def listed_at_80_columns(app: typer.Typer, monkeypatch: pytest.MonkeyPatch, *args: str) -> Result:
    """``app``'s ``list`` with ``args`` as a default terminal or a pipe draws it (80 columns): it succeeds
    and no line is wider."""
    monkeypatch.setenv("COLUMNS", "80")
    listed = CliRunner().invoke(app, ["list", *args])
    assert listed.exit_code == 0, listed.output
    assert max(len(line) for line in listed.stdout.splitlines()) <= 80
    return listed


def table_rows(output: str) -> list[list[list[str]]]:
    """The rows of a `list` table as printed, each cell the pieces it is folded into, one a line: a row
    starts on the line where the first column, never folded, has a value."""
    rows: list[list[list[str]]] = []
    for line in output.splitlines():
        if line.startswith("│"):
            pieces = [piece.strip() for piece in line.strip("│").split("│")]
            if pieces[0]:
                rows.append([[] for _ in pieces])
            for cell, piece in zip(rows[-1], pieces, strict=True):
                cell.append(piece)
    return rows

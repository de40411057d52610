"""SQLite file engines keep as many connections as the API's thread pool has threads (opening more
rather than making anyone wait), and open an existing database file only: a missing file is an error,
never a new empty database."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import QueuePool, StaticPool

from models.db import make_engine


def test_a_file_engine_pools_a_connection_per_api_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}", create=True)
    try:
        assert isinstance(engine.pool, QueuePool)
        assert engine.pool.size() == 40
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        engine.dispose()


def test_a_file_engine_opens_more_connections_rather_than_make_a_caller_wait(tmp_path: Path) -> None:
    # The API reads the token on the event loop on SQLite (api/deps.py): a wait for a connection there
    # would stall the whole worker, so more requests in progress than pooled connections get new ones.
    engine = make_engine(f"sqlite:///{tmp_path / 'pool.db'}", create=True, pool_timeout=0.1)
    try:
        held = [engine.connect() for _ in range(engine.pool.size() + 25)]
        assert [c.execute(text("SELECT 1")).scalar() for c in held] == [1] * len(held)
        for conn in held:
            conn.close()
        assert engine.pool.checkedin() == engine.pool.size()  # the extra ones are closed when given back
    finally:
        engine.dispose()


def test_an_explicit_pool_and_an_in_memory_database_are_left_alone() -> None:
    engine = make_engine("sqlite://", poolclass=StaticPool)
    assert isinstance(engine.pool, StaticPool)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    engine.dispose()
    memory = make_engine("sqlite://")
    with memory.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1
    memory.dispose()


def test_a_missing_database_file_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    database = tmp_path / "gone" / "shouxin.db"
    engine = make_engine(f"sqlite:///{database}")
    with pytest.raises(OperationalError, match="unable to open database file"), engine.connect():
        pass
    engine.dispose()
    assert not database.parent.exists()


def test_create_makes_the_empty_file_once_and_keeps_what_is_in_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new' / 'shouxin.db'}"
    engine = make_engine(url, create=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
    engine.dispose()
    again = make_engine(url, create=True)  # on an existing file: opened as it is
    with again.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 1
    again.dispose()


def test_an_unusual_file_name_is_opened_as_named(tmp_path: Path) -> None:
    # The open goes through a SQLite URI: "#", "%" and spaces in a path must not be read as its syntax.
    database = tmp_path / "目录 a#b%20c" / "库.db"
    engine = make_engine(f"sqlite:///{database}", create=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    assert database.is_file()
    assert [p.name for p in database.parent.iterdir() if p.suffix == ".db"] == ["库.db"]

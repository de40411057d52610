"""SQLite files: writers from every process queue on an flock beside the database (models/sqlite_writer.py),
so a waiting writer goes as soon as the holder commits instead of polling, a writer that cannot get its
turn within the busy timeout fails as on a locked database with nothing written, and nothing deadlocks on
itself."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.exc import OperationalError

from models import sqlite_writer
from models.db import make_engine


def _table(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url, create=True)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    engine.dispose()
    return url


def test_a_writer_of_another_engine_waits_its_turn_and_goes_at_the_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _table(tmp_path / "q.db")
    first, second = make_engine(url), make_engine(url)  # as two API processes would
    reached_sqlite: list[str] = []
    queued = threading.Event()
    take_turn = sqlite_writer.take_turn

    def queueing(lock_path: Path, timeout: float) -> int | None:
        queued.set()
        return take_turn(lock_path, timeout)

    monkeypatch.setattr(sqlite_writer, "take_turn", queueing)

    # Registered after the queue's own listener, so it runs only once the statement got its turn: whether
    # the waiter sits in the queue or in SQLite's polling busy handler is seen without timing anything.
    @event.listens_for(second, "before_cursor_execute")
    def _let_through(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        reached_sqlite.append(statement)

    def write_second() -> None:
        with second.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('second')"))

    with first.connect() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('first')"))  # holds the turn and SQLite's lock
        queued.clear()
        waiter = threading.Thread(target=write_second)
        waiter.start()
        assert queued.wait(timeout=60)  # the second writer asked for its turn
        assert reached_sqlite == []  # and waits for it, not polling SQLite's lock
        conn.commit()
    waiter.join(timeout=60)
    assert not waiter.is_alive()
    assert len(reached_sqlite) == 1
    assert (tmp_path / "q.db-writer").exists()
    with first.connect() as conn:
        assert conn.execute(text("SELECT who FROM t ORDER BY id")).scalars().all() == ["first", "second"]
    first.dispose()
    second.dispose()


def test_a_writer_that_cannot_get_its_turn_in_time_fails_as_on_a_locked_database(tmp_path: Path) -> None:
    url = _table(tmp_path / "b.db")
    holder, hasty = make_engine(url), make_engine(url, busy_timeout=0.2)
    with holder.connect() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('holder')"))  # keeps the turn past the timeout
        with hasty.connect() as other:
            # The error of a locked database, which the API answers with 503 (api/errors.py).
            with pytest.raises(OperationalError, match="database is locked"):
                other.execute(text("INSERT INTO t (who) VALUES ('answered already')"))
            other.rollback()
        conn.commit()
    # The abandoned wait gave the turn straight back: the next writer goes, and the refused statement was
    # never written, not even once the holder let go.
    later = make_engine(url)
    with later.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('later')"))
        assert conn.execute(text("SELECT who FROM t ORDER BY id")).scalars().all() == ["holder", "later"]
    for engine in (holder, hasty, later):
        engine.dispose()


def test_an_abandoned_wait_gives_its_turn_back_and_never_a_later_one(tmp_path: Path) -> None:
    import os

    path = tmp_path / "turn"
    holder = sqlite_writer.take_turn(path, 1)
    assert holder is not None
    assert sqlite_writer.take_turn(path, 0.01) is None  # the holder keeps it
    os.close(holder)
    # The abandoned helper takes the lock and lets it go; a later request gets its turn and keeps it.
    later = sqlite_writer.take_turn(path, 60)
    assert later is not None
    assert sqlite_writer.take_turn(path, 0.01) is None
    os.close(later)


def test_a_rollback_or_a_returned_connection_gives_the_turn_back(tmp_path: Path) -> None:
    url = _table(tmp_path / "r.db")
    first, second = make_engine(url), make_engine(url)
    with first.connect() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('undone')"))
        conn.rollback()
    with second.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('after rollback')"))
    conn2 = first.connect()
    conn2.execute(text("INSERT INTO t (who) VALUES ('abandoned')"))
    conn2.close()  # back to the pool without commit: the pool rolls back
    with second.begin() as conn:
        conn.execute(text("INSERT INTO t (who) VALUES ('after close')"))
        rows = conn.execute(text("SELECT who FROM t ORDER BY id")).scalars().all()
    assert rows == ["after rollback", "after close"]
    first.dispose()
    second.dispose()


def test_a_thread_holding_a_turn_does_not_wait_for_itself(tmp_path: Path) -> None:
    url = _table(tmp_path / "s.db")
    engine = make_engine(url, busy_timeout=0.3)  # the default 30 s would only slow the test
    reached_sqlite: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _let_through(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        reached_sqlite.append(statement)

    with engine.connect() as outer:
        outer.execute(text("INSERT INTO t (who) VALUES ('outer')"))
        # A second write transaction from the same thread skips the queue (it would wait for itself) and
        # meets SQLite's busy timeout, as before.
        with engine.connect() as inner:
            with pytest.raises(OperationalError, match="locked"):
                inner.execute(text("INSERT INTO t (who) VALUES ('inner')"))
        assert reached_sqlite[-1].endswith("('inner')")  # refused by SQLite, not by the queue
        outer.commit()
    engine.dispose()


def test_in_memory_databases_have_no_writer_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    before = set(tmp_path.iterdir())  # the settings' database file of tests/conftest.py
    for url in ("sqlite://", "sqlite:///:memory:"):
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO t DEFAULT VALUES"))
        engine.dispose()
    assert set(tmp_path.iterdir()) == before


def test_the_turn_is_given_back_only_once_sqlite_has_committed(tmp_path: Path) -> None:
    import fcntl
    import os

    url = _table(tmp_path / "c.db")
    engine = make_engine(url)
    lock = os.open(f"{tmp_path / 'c.db'}-writer", os.O_RDWR | os.O_CREAT, 0o600)
    held: list[bool] = []

    def turn_taken() -> bool:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(lock, fcntl.LOCK_UN)
        return False

    # SQLAlchemy's "commit" event fires before the DBAPI commit: SQLite still holds its write lock then, so
    # the next writer must not have been let go yet.
    event.listen(engine, "commit", lambda _conn: held.append(turn_taken()))
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t (who) VALUES ('a')"))
        assert held == [True]
        assert not turn_taken()  # and once committed, it is free
    finally:
        os.close(lock)
        engine.dispose()

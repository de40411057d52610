"""Engine and sessions. SQLite runs in WAL mode with a busy timeout so flows and the API share it."""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, create_engine

from models.settings import get_settings


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a 30 s busy timeout and foreign keys on."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:" and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": 30})
        database = make_url(url).database  # None or ":memory:" for an in-memory database
        on_file = bool(database) and database != ":memory:" and not str(database).startswith("file:")
        if on_file and "poolclass" not in kwargs and "pool" not in kwargs:
            # As many connections as the API's thread pool has threads (anyio's 40): with SQLAlchemy's
            # default of 5 + 10 a request waited for a connection whenever more than 15 were in progress
            # in one worker (a quarter of the thread samples in benchmark 3, docs/benchmarks.md). A file
            # connection costs little until it reads pages, and SQLite's locks, not the pool, order writers.
            kwargs.setdefault("pool_size", 40)
            kwargs.setdefault("max_overflow", 10)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Bulk writes (the sweep, the import) touch index pages all over a large file: a 64 MB page cache
            # (SQLite's default is 2 MB) and a WAL checkpoint every ~40 MB rather than every 4 MB keep them
            # from re-reading and re-copying the same pages (docs/benchmarks.md). A memory map was tried and
            # left out: ~10 % faster, but the mapped file counts in the process's resident memory.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.close()

        if on_file:
            assert database is not None
            _writer_queue(engine, Path(database).with_name(Path(database).name + "-writer"))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


# pysqlite begins a transaction just before the first INSERT/UPDATE/DELETE; that statement takes SQLite's
# one write lock, held until commit or rollback.
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE)\b", re.IGNORECASE)


def _writer_queue(engine: Engine, lock_path: Path) -> None:
    """Writers to one SQLite file, in every process, wait their turn on an ``flock`` of ``lock_path``
    before they take SQLite's write lock, and give it back at commit or rollback.

    SQLite admits one writer at a time anyway, but a writer that finds the lock taken polls for it with
    sleeps growing to 100 ms: under the API's concurrent writes from several worker processes a write
    could lose that race for seconds while the lock sat free between polls (p99 of 2–3 s in benchmark 3,
    docs/benchmarks.md). The kernel wakes an ``flock`` waiter as soon as the holder lets go. A thread that
    already holds a turn through another connection does not queue again (it would wait for itself); it
    meets SQLite's busy timeout as before."""
    holders: set[int] = set()  # threads holding a turn (the session may commit on another thread)

    @event.listens_for(engine, "before_cursor_execute")
    def _take_turn(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        info = conn.info
        if "turn" in info or not _WRITE.match(statement) or threading.get_ident() in holders:
            return
        fd = info.get("turn_fd")
        if fd is None:
            fd = info["turn_fd"] = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        info["turn"] = threading.get_ident()
        holders.add(info["turn"])

    def _give_back(info: dict[Any, Any]) -> None:
        owner = info.pop("turn", None)
        if owner is not None:
            holders.discard(owner)
            fcntl.flock(info["turn_fd"], fcntl.LOCK_UN)

    def _close(info: dict[Any, Any]) -> None:
        _give_back(info)
        fd = info.pop("turn_fd", None)
        if fd is not None:
            os.close(fd)

    _after_commit_and_rollback(engine, _give_back)
    # A connection returned to the pool without either (the pool rolls it back) gives its turn back too.
    event.listen(engine.pool, "checkin", lambda _dbapi, record: _give_back(record.info) if record else None)
    event.listen(engine.pool, "close", lambda _dbapi, record: _close(record.info))


def _after_commit_and_rollback(engine: Engine, give_back: Callable[[dict[Any, Any]], None]) -> None:
    # The turn is given back once SQLite has committed or rolled back, not at SQLAlchemy's "commit" event,
    # which fires before the DBAPI commit: the next writer woke while SQLite still held its lock (a WAL
    # checkpoint runs inside the commit) and fell into the polling busy handler the queue is there to avoid.
    dialect = engine.dialect
    do_commit, do_rollback = dialect.do_commit, dialect.do_rollback

    # Both are handed the pool's proxy of the connection (engine and pool reset alike), whose ``info`` is
    # the connection record's, where the turn is kept; the ad-hoc proxy of a connection being set up has
    # no record and cannot hold a turn.
    def _after(connection: Any) -> None:
        try:
            info = connection.info
        except NotImplementedError:
            return
        give_back(info)

    def _commit(connection: Any) -> None:
        try:
            do_commit(connection)
        finally:
            _after(connection)

    def _rollback(connection: Any) -> None:
        try:
            do_rollback(connection)
        finally:
            _after(connection)

    # The engine has a dialect instance of its own (the pool's too), so only this engine is wrapped.
    dialect.do_commit = _commit  # type: ignore[method-assign,assignment]
    dialect.do_rollback = _rollback  # type: ignore[method-assign,assignment]


@lru_cache
def get_engine() -> Engine:
    return make_engine(get_settings().database_url)


@contextmanager
def session_scope(engine: Engine | None = None) -> Iterator[Session]:
    """A session that commits on success and rolls back on error (for flows and the CLI)."""
    with Session(engine or get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

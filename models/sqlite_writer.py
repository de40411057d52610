"""The writer queue of a SQLite file: writers in every process take turns on an ``flock`` beside it.

When it matters: several API processes (``shouxin serve --workers 2``) writing to one SQLite file. SQLite
admits one writer at a time, and a writer that finds its lock taken polls for it with sleeps growing to
100 ms: under concurrent writes from several processes a write could lose that race for seconds while the
lock sat free between polls (p99 of 2–3 s in benchmark 3, docs/benchmarks.md). The kernel wakes an
``flock`` waiter as soon as the holder lets go, so writers queue instead of polling. With one process, a
PostgreSQL database or an in-memory SQLite database the queue is not installed.

A writer waits for its turn no longer than the busy timeout, then gets the error a locked database
gives (``OperationalError: database is locked``, answered 503 by the API), before anything of its
statement reached SQLite: a request that was already answered is never written later.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

# pysqlite begins a transaction just before the first INSERT/UPDATE/DELETE; that statement takes SQLite's
# one write lock, held until commit or rollback. A SAVEPOINT (``session.begin_nested()``, which services
# use to undo one case without the caller's transaction) begins the transaction itself, before the reads
# that precede its writes: it takes the turn too, or its snapshot could be stale by the time it writes
# (SQLite then refuses the write at once, "database is locked").
_WRITE = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|SAVEPOINT)\b", re.IGNORECASE)


def install_writer_queue(engine: Engine, lock_path: Path, *, busy_timeout: float) -> None:
    """Make ``engine``'s writers wait their turn on an ``flock`` of ``lock_path`` before they take
    SQLite's write lock, for at most ``busy_timeout`` seconds, and give it back at commit or rollback.

    A thread that already holds a turn through another connection does not queue again (it would wait
    for itself); it meets SQLite's busy timeout as before."""
    holders: set[int] = set()  # threads holding a turn (the session may commit on another thread)

    @event.listens_for(engine, "before_cursor_execute")
    def _take_turn(conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        info = conn.info
        if "turn" in info or not _WRITE.match(statement) or threading.get_ident() in holders:
            return
        fd = take_turn(lock_path, busy_timeout)
        if fd is None:
            locked = sqlite3.OperationalError("database is locked")
            raise OperationalError(statement, parameters, locked)
        info["turn"] = (threading.get_ident(), fd)
        holders.add(threading.get_ident())

    def _give_back(info: dict[Any, Any]) -> None:
        turn = info.pop("turn", None)
        if turn is not None:
            owner, fd = turn
            holders.discard(owner)
            os.close(fd)  # closing the only descriptor of the open file releases its flock

    _after_commit_and_rollback(engine, _give_back)
    # A connection returned to the pool without either (the pool rolls it back) gives its turn back too.
    event.listen(engine.pool, "checkin", lambda _dbapi, record: _give_back(record.info) if record else None)
    event.listen(engine.pool, "close", lambda _dbapi, record: _give_back(record.info))


def take_turn(lock_path: Path, timeout: float) -> int | None:
    """A new descriptor of ``lock_path`` holding its exclusive ``flock``, taken within ``timeout``
    seconds; None when the time ran out. Closing the descriptor gives the turn back.

    ``flock`` has no timeout of its own, so a contended wait runs in a helper thread while the caller
    waits on an event with one. A helper that gets the lock after its caller gave up closes it at once;
    each turn has a descriptor of its own, so that never releases a later turn."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return fd
    except BlockingIOError:
        pass
    decided = threading.Lock()
    granted = threading.Event()
    abandoned = False

    def wait() -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)  # releases the GIL while it waits
        with decided:
            if abandoned:
                os.close(fd)
            else:
                granted.set()

    threading.Thread(target=wait, name="sqlite-writer-turn", daemon=True).start()
    if granted.wait(timeout):
        return fd
    with decided:
        if granted.is_set():  # granted between the timeout and here: keep it
            return fd
        abandoned = True
    return None


def _after_commit_and_rollback(engine: Engine, give_back: Callable[[dict[Any, Any]], None]) -> None:
    # The turn is given back once SQLite has committed or rolled back, not at SQLAlchemy's "commit" event,
    # which fires before the DBAPI commit: the next writer woke while SQLite still held its lock (a WAL
    # checkpoint runs inside the commit) and fell into the polling busy handler the queue is there to avoid.
    # SQLAlchemy has no event after the DBAPI commit, so the engine's own dialect instance is wrapped.
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

    dialect.do_commit = _commit  # type: ignore[method-assign,assignment]
    dialect.do_rollback = _rollback  # type: ignore[method-assign,assignment]

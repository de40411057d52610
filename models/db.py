"""Engine and sessions. SQLite runs in WAL mode with a busy timeout so flows and the API share it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlmodel import Session, create_engine

from models.settings import get_settings
from models.sqlite_writer import install_writer_queue


def json_text(value: Any) -> str:
    """JSON columns' text: orjson's compact UTF-8 (what the bulk paths wrote before), at a fraction of the
    standard library's cost for the sweep's and the import's hundreds of thousands of rows; integer keys
    become text as with ``json.dumps``, and a value either refuses (an integer beyond 64 bits) goes
    through the standard library."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(value, ensure_ascii=False)


def make_engine(
    url: str, *, create: bool = False, busy_timeout: float | None = None, **kwargs: Any
) -> Engine:
    """An engine for ``url``; SQLite files get WAL, foreign keys on, a busy timeout (``busy_timeout``
    seconds, by default the setting ``sqlite_busy_timeout_seconds``) and the writer queue. JSON columns
    are written by ``json_text`` (SQLAlchemy's ``json_serializer``) on every database.

    The engine never creates a SQLite file: a missing one is an error (``_existing_file_only``).
    ``create`` makes the empty file first (``create_sqlite_file``), for set-ups that build a fresh
    database on purpose."""
    kwargs.setdefault("json_serializer", json_text)
    if create:
        create_sqlite_file(url)
    if url.startswith("sqlite"):
        timeout = get_settings().sqlite_busy_timeout_seconds if busy_timeout is None else busy_timeout
        kwargs.setdefault("connect_args", {"check_same_thread": False, "timeout": timeout})
        database = sqlite_file(url)
        on_file = database is not None
        if on_file and "poolclass" not in kwargs and "pool" not in kwargs:
            # As many kept connections as the API's thread pool has threads (anyio's 40): with SQLAlchemy's
            # default of 5 + 10 a request waited for a connection whenever more than 15 were in progress
            # in one worker (a quarter of the thread samples in benchmark 3, docs/benchmarks.md). Beyond
            # those the pool opens more rather than making anyone wait (and closes them when given back):
            # the API reads the token and the calendar on the event loop on SQLite (api/deps.py), where
            # a wait for a connection would stall every request of the worker. A file connection costs
            # little until it reads pages, and SQLite's locks, not the pool, order writers.
            kwargs.setdefault("pool_size", 40)
            kwargs.setdefault("max_overflow", -1)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Bulk writes (the sweep, the import) touch index pages all over a large file: a 64 MB page cache
            # (SQLite's default is 2 MB) and a WAL checkpoint every ~40 MB rather than every 4 MB keep them
            # from re-reading and re-copying the same pages (docs/benchmarks.md). A memory map was tried and
            # left out: ~10 % faster, but the mapped file counts in the process's resident memory.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.execute("PRAGMA wal_autocheckpoint=10000")
            cursor.close()

        if database is not None:
            _existing_file_only(engine)
            lock_path = Path(database).with_name(Path(database).name + "-writer")
            install_writer_queue(engine, lock_path, busy_timeout=timeout)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def sqlite_file(url: str | URL) -> str | None:
    """The file of a SQLite ``url``; None for another database, an in-memory one or a ``file:`` URI."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    return None if database.startswith("file:") else database


def create_sqlite_file(url: str | URL) -> None:
    """Create the empty database file of a SQLite ``url`` (and its directory) if it is missing; nothing for
    another database. Only ``shouxin db upgrade`` (``models.schema.upgrade``) and set-ups that build a fresh
    database on purpose call this: engines open an existing file only."""
    database = sqlite_file(url)
    if database is None:
        return
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(database).close()  # creates the file (an empty database) when there is none


def _existing_file_only(engine: Engine) -> None:
    """Open ``engine``'s SQLite file read-write, never creating it: a missing file is an error.

    sqlite3 creates a missing database file on connect. With the file moved away for a moment under load,
    every connection the pool opened then got a fresh empty database: requests were answered 201 into it
    and those writes were gone when the file came back (issue 16, item 3). SQLite's URI parameter
    ``mode=rw`` makes the open fail instead (``OperationalError: unable to open database file``, which the
    API answers 503). The URL itself stays a plain path, so everything that reads ``engine.url`` (the
    writer queue's lock, alembic, backups) is unchanged; only the driver's arguments are rewritten."""

    @event.listens_for(engine, "do_connect")
    def _open_read_write(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        # The dialect hands sqlite3 the absolute path; as a URI it is percent-encoded (a "?" or "#" in a
        # directory name must not start the query).
        cargs[0] = f"file:{quote(str(cargs[0]))}?mode=rw"
        cparams["uri"] = True


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

"""One way to insert many rows, for the set-based services (the sweep, the import).

``insert_rows`` converts every value with the bind processor SQLAlchemy attaches to its column for the
engine's dialect (``UTCDateTime``'s UTC conversion, the JSON serializer, enums stored by name), so the
stored values are exactly what the ORM stores. How the rows travel depends on the database:

- SQLite: Core's compiled ``INSERT`` (``ON CONFLICT … DO NOTHING`` where asked) with its ``VALUES`` group
  repeated, many rows per statement (chunked below the bound-parameter limit). That costs less than the
  driver's ``executemany`` (a reset, bind and step per row), and converting column by column converts a
  batch's shared values (its ``now``) once: Core's own ``executemany`` of the same rows took about three
  times as long. The columns every row of the batch shares are bound once per statement
  (``INSERT … SELECT ?, column1, … FROM (VALUES …)``), the others once per row.
- PostgreSQL: the same ``INSERT`` with PostgreSQL's numbered placeholders, a shared column's one
  parameter named by every row, or, for a large batch, ``COPY … FROM STDIN`` (psycopg 3's
  ``cursor.copy``), the server's bulk-load path: into the table, or, with ``ON CONFLICT``, into a
  temporary table and from there by one ``INSERT … SELECT … ON CONFLICT DO NOTHING``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from itertools import chain, count
from operator import itemgetter
from typing import Any

import psycopg
from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.schema import ScalarElementColumnDefault
from sqlmodel import Session

# Bound parameters per SQLite statement: SQLite's compile-time default limit (some builds allow more).
_SQLITE_PARAMS = 32766
# Bound parameters per PostgreSQL statement: the protocol's limit (a 16-bit count).
_POSTGRES_PARAMS = 65535
# From this many rows on, PostgreSQL loads through COPY: below it an INSERT of many rows is as quick.
_COPY_FROM = 1000


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    on_conflict_do_nothing: Sequence[str] = (),
) -> None:
    """INSERT the rows (each with the same keys) in the session's transaction, in their order.

    ``on_conflict_do_nothing`` names the unique columns whose duplicates (with stored rows or within
    ``rows``) are skipped; without it a duplicate raises the database's integrity error."""
    if not rows:
        return
    # A column left out that has a plain default gets it, as an ORM insert would (a column added later,
    # such as deadline_pending, need not be spelled out by every row builder).
    defaults = {
        c.name: c.default.arg
        for c in table.c
        if c.name not in rows[0] and isinstance(c.default, ScalarElementColumnDefault)
    }
    if defaults:
        rows = [{**defaults, **row} for row in rows]
    names = list(rows[0])
    _check_columns(table, names)
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        raise NotImplementedError(f"bulk insert is written for SQLite and PostgreSQL, not {dialect}")
    if dialect == "postgresql" and len(rows) >= _COPY_FROM:
        if on_conflict_do_nothing:
            _copy_skipping_conflicts(connection, table, names, rows, on_conflict_do_nothing)
        else:
            _copy(connection, table, names, rows)
    else:
        _insert_many_per_statement(connection, table, names, rows, on_conflict_do_nothing)


def _check_columns(table: Table, names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
    missing = [c.name for c in table.c if c.name not in names and not c.primary_key and not c.nullable]
    if missing:
        raise ValueError(f"bulk insert into {table.name} needs values for {', '.join(missing)}")


def _driver_columns(
    dialect: Dialect, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> tuple[list[Sequence[Any]], set[int]]:
    """The rows' values of ``names`` column by column, in the form SQLAlchemy hands the driver, and the
    positions of the columns that hold one object in every row (a batch's ``now``, actor, state, a None).

    Each row's values are taken by one itemgetter call, then transposed (zip), so a bind processor runs
    column by column: once for a shared value, once per distinct object otherwise."""
    take = itemgetter(*names)
    built = [(value,) for value in map(take, rows)] if len(names) == 1 else list(map(take, rows))
    columns: list[Sequence[Any]] = list(zip(*built, strict=True))
    shared: set[int] = set()
    for i, name in enumerate(names):
        values = columns[i]
        first = values[0]
        # The check stops at the first other value: a column of distinct values pays one comparison.
        same = all(value is first for value in values)
        process = _bind_processor(dialect, table, name)
        if same:
            shared.add(i)
            columns[i] = (process(first) if process else first,) * len(values)
        elif process:
            columns[i] = _converted(process, values)
    return columns, shared


def _converted(process: Callable[[Any], Any], values: Sequence[Any]) -> list[Any]:
    """``process`` of each value, once per distinct object: an import chunk's rows share a few deadline
    and publication-day objects, its states are enum members. Keyed by identity, so values that are equal
    but of different types (``1`` and ``True``) never share a conversion."""
    done: dict[int, Any] = {}
    out = []
    for value in values:
        key = id(value)
        converted = done.get(key, _MISSING)
        if converted is _MISSING:
            converted = done[key] = process(value)
        out.append(converted)
    return out


_MISSING = object()


def _driver_rows(
    dialect: Dialect, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """The rows as tuples of ``names``' values (in that order) in the form SQLAlchemy hands the driver."""
    columns, _ = _driver_columns(dialect, table, names, rows)
    return list(zip(*columns, strict=True))


def _bind_processor(dialect: Dialect, table: Table, name: str) -> Callable[[Any], Any] | None:
    processor: Callable[[Any], Any] | None = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    return processor


def _insert_many_per_statement(
    connection: Connection,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    on_conflict_do_nothing: Sequence[str],
) -> None:
    """Core compiles the one-row INSERT with positional parameters; on SQLite each statement repeats its
    ``VALUES`` group per row, as many rows as the bound-parameter limit allows (on PostgreSQL with
    numbered placeholders, ``_insert_numbered``)."""
    dialect = connection.dialect
    postgres = dialect.name == "postgresql"
    # inline(): no RETURNING of the generated key (PostgreSQL's compiler adds one for a single-row INSERT).
    statement = (postgresql if postgres else sqlite).insert(table).inline()
    if on_conflict_do_nothing:
        statement = statement.on_conflict_do_nothing(index_elements=on_conflict_do_nothing)
    kind: Any = type(dialect)
    compiled = statement.compile(dialect=_positional(kind), column_keys=list(names))
    order = list(compiled.positiontup or ())  # the parameters in the compiled (table's column) order
    head, _, rest = compiled.string.partition(" VALUES ")
    group, tail = _values_group(rest)
    assert sorted(order) == sorted(names), compiled.string
    columns, shared = _driver_columns(dialect, table, order, rows)
    if postgres:
        _insert_numbered(connection, head, group, tail, columns, shared)
        return
    if len(rows) > 1 and shared:
        _insert_select_shared(connection, head, tail, columns, shared)
        return
    built = list(zip(*columns, strict=True))
    per = max(1, _SQLITE_PARAMS // len(order))
    for start in range(0, len(built), per):
        part = built[start : start + per]
        sql = f"{head} VALUES {', '.join([group] * len(part))}{tail}"
        connection.exec_driver_sql(sql, tuple(chain.from_iterable(part)))


def _insert_select_shared(
    connection: Connection, head: str, tail: str, columns: list[Sequence[Any]], shared: set[int]
) -> None:
    """SQLite: ``INSERT … SELECT ?, column1, … FROM (VALUES (…), …)``, the columns every row shares bound
    once per statement instead of once per row (a register event shares 13 of its 17 columns, a batch's
    mails most of theirs): binding a parameter cost more per row than some of the B-tree inserts.

    A ``VALUES`` row has no column affinity, so each value takes the table column's affinity as in
    ``INSERT … VALUES``; SQLite inserts the rows in their ``VALUES`` order. ``WHERE true`` is SQLite's way
    to tell an upsert's ``ON CONFLICT`` from a join's ``ON`` after a ``SELECT``."""
    fixed, varying, parts = _by_statement(columns, shared, _SQLITE_PARAMS)
    position = {i: k for k, i in enumerate(varying, start=1)}
    picked = ", ".join(f"column{position[i]}" if i in position else "?" for i in range(len(columns)))
    group = f"({', '.join(['?'] * len(varying))})"
    for part in parts:
        sql = f"{head} SELECT {picked} FROM (VALUES {', '.join([group] * len(part))}) WHERE true{tail}"
        connection.exec_driver_sql(sql, (*fixed, *chain.from_iterable(part)))


def _insert_numbered(
    connection: Connection, head: str, group: str, tail: str, columns: list[Sequence[Any]], shared: set[int]
) -> None:
    """PostgreSQL: Core's ``VALUES`` group once per row with PostgreSQL's own numbered placeholders
    (``$1``, ``$2`` …, Core's casts kept), executed with psycopg's ``RawCursor`` (``_raw_cursors``); a column
    every row of the batch shares is one parameter that each group names again, so it is bound once per
    statement.

    psycopg's default cursor rewrites ``%s`` placeholders to ``$n`` on each execution of a statement over
    4 KB or 50 parameters (it caches only shorter ones): with a group per row that was a quarter of the
    PostgreSQL sweep's CPU. The raw cursor sends the text as written. Arrays through ``unnest`` were tried
    and cost as much (psycopg dumps an array's elements one by one in Python)."""
    pieces = group[1:-1].split("%s")  # the text around each placeholder: Core's casts and commas
    assert len(pieces) == len(columns) + 1, group
    fixed, varying, parts = _by_statement(columns, shared, _POSTGRES_PARAMS)
    slot_of = {i: k for k, i in enumerate(varying)}
    number = {i: k for k, i in enumerate((i for i in range(len(columns)) if i not in slot_of), start=1)}
    # One row's group as a format string: a shared column's number written in, a varying one's ``{k}``,
    # the k-th varying value of the row (Core's casts and commas escaped for format()).
    text = [piece.replace("{", "{{").replace("}", "}}") for piece in pieces]
    slots = [f"${{{slot_of[i]}}}" if i in slot_of else f"${number[i]}" for i in range(len(columns))]
    template = (
        "(" + text[0] + "".join(slot + after for slot, after in zip(slots, text[1:], strict=True)) + ")"
    )
    width = len(varying)
    base = len(fixed) + 1
    with _raw_cursors(connection):
        for part in parts:
            groups = ", ".join(
                template.format(*range(base + k * width, base + (k + 1) * width)) for k in range(len(part))
            )
            connection.exec_driver_sql(f"{head} VALUES {groups}{tail}", (*fixed, *chain.from_iterable(part)))


def _by_statement(
    columns: list[Sequence[Any]], shared: set[int], limit: int
) -> tuple[list[Any], list[int], list[list[tuple[Any, ...]]]]:
    """How a batch is bound when its shared columns go once per statement: the shared columns' values,
    the positions of the others, and the rows' values of those in parts that fit ``limit`` bound
    parameters each, the shared ones included. Rows identical in every column still vary in column 0,
    which gives the statement its rows."""
    if len(shared) == len(columns):
        shared = shared - {0}
    varying = [i for i in range(len(columns)) if i not in shared]
    fixed = [columns[i][0] for i in range(len(columns)) if i in shared]
    built = list(zip(*(columns[i] for i in varying), strict=True))
    per = max(1, (limit - len(fixed)) // len(varying))
    return fixed, varying, [built[start : start + per] for start in range(0, len(built), per)]


@contextmanager
def _raw_cursors(connection: Connection) -> Iterator[None]:
    """The connection's statements in this block go by psycopg's ``RawCursor`` (``$n`` placeholders, the
    text sent as written), still executed by SQLAlchemy: its events, logging, error classes and handling
    of a lost connection stay those of every other statement."""
    driver = connection.connection.driver_connection
    assert driver is not None
    previous = driver.cursor_factory
    driver.cursor_factory = psycopg.RawCursor
    try:
        yield
    finally:
        driver.cursor_factory = previous


def _values_group(text: str) -> tuple[str, str]:
    """The leading ``(…)`` group of ``text`` (bound parameters, on PostgreSQL with type casts such as
    ``%s::NUMERIC(10, 2)``) and what follows it."""
    depth = 0
    for i, char in enumerate(text):
        depth += (char == "(") - (char == ")")
        if depth == 0:
            return text[: i + 1], text[i + 1 :]
    raise ValueError(f"no VALUES group in {text!r}")


@cache
def _positional(dialect: Any) -> Dialect:
    """A dialect of the engine's kind that compiles positional parameters (SQLite's own ``?``, psycopg's
    ``%s`` where the engine's uses named ones), so one ``VALUES`` group can be repeated."""
    positional: Dialect = dialect() if dialect.name == "sqlite" else dialect(paramstyle="format")
    return positional


def _copy(
    connection: Connection, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """PostgreSQL: ``COPY table (names) FROM STDIN`` on the session's own psycopg connection (so in its
    transaction). psycopg writes each driver value (psycopg's ``Json`` wrapper for JSON) in COPY's text
    format, which the server parses by the column's type as it parses a bound parameter."""
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    converted = _driver_rows(connection.dialect, table, names, rows)
    _copy_into(connection, f"{quote(table.name)} ({columns})", converted)


def _copy_into(connection: Connection, target: str, rows: Iterable[Sequence[Any]]) -> None:
    """``COPY target FROM STDIN`` of driver-form ``rows`` on the session's psycopg connection."""
    sql = f"COPY {target} FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    with _as_sqlalchemy_errors(connection, sql), driver.cursor() as cursor, cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


def _copy_skipping_conflicts(
    connection: Connection,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    conflict: Sequence[str],
) -> None:
    """PostgreSQL, a large batch with ``ON CONFLICT DO NOTHING``: ``COPY`` into a temporary table of the
    rows' columns (their types taken from ``table``, no defaults, so no id is drawn for it), then one
    ``INSERT … SELECT … ORDER BY`` their position ``ON CONFLICT (…) DO NOTHING``, PostgreSQL's bulk-upsert
    path; the temporary table is dropped at once (and with the transaction at the latest)."""
    quote = connection.dialect.identifier_preparer.quote
    staging = quote(f"bulk_{table.name}_{next(_staging_numbers)}")
    columns = ", ".join(quote(n) for n in names)
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {staging} ON COMMIT DROP AS SELECT {columns}, 0 AS bulk_position "
        f"FROM {quote(table.name)} WITH NO DATA"
    )
    converted = _driver_rows(connection.dialect, table, names, rows)
    _copy_into(
        connection, f"{staging} ({columns}, bulk_position)", ((*row, i) for i, row in enumerate(converted))
    )
    keys = ", ".join(quote(n) for n in conflict)
    connection.exec_driver_sql(
        f"INSERT INTO {quote(table.name)} ({columns}) SELECT {columns} FROM {staging} "
        f"ORDER BY bulk_position ON CONFLICT ({keys}) DO NOTHING"
    )
    connection.exec_driver_sql(f"DROP TABLE {staging}")


# Temporary tables of one connection's bulk upserts get distinct names (one per call, dropped after it).
_staging_numbers = count(1)


@contextmanager
def _as_sqlalchemy_errors(connection: Connection, statement: str) -> Iterator[None]:
    """A psycopg error of a statement sent on the driver's own cursor, raised as SQLAlchemy raises it for
    its own statements (``IntegrityError`` for a duplicate, ``OperationalError`` for a lock timeout …):
    the sweep retries a batch that lost a race on those, whichever way its rows went. A lost server
    connection invalidates the SQLAlchemy connection, as its own statements do, so the pool drops it and
    the caller's rollback succeeds."""
    try:
        yield
    except psycopg.Error as exc:
        error: Any = exc  # psycopg's error class is the dialect's DBAPI Error, which the stubs do not know
        lost = connection.dialect.is_disconnect(error, connection.connection.driver_connection, None)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(statement, None, exc, psycopg.Error, connection_invalidated=lost) from exc

"""One way to insert many rows, for the set-based services (the sweep, the import).

``insert_rows`` converts every value with the bind processor SQLAlchemy attaches to its column for the
engine's dialect (``UTCDateTime``'s UTC conversion, the JSON serializer, enums stored by name), so the
stored values are exactly what the ORM stores. How the rows travel depends on the database:

- SQLite: Core's compiled ``INSERT`` with its ``VALUES`` group repeated, many rows per statement (chunked
  below SQLite's bound-parameter limit). That costs less than the driver's ``executemany`` (a reset, bind
  and step per row), and converting column by column converts a batch's shared values (its ``now``) once:
  Core's own ``executemany`` of the same rows took about three times as long.
- PostgreSQL: a large batch without ``ON CONFLICT`` goes through ``COPY … FROM STDIN`` (psycopg 3's
  ``cursor.copy``), the server's bulk-load path; other batches go through the driver's ``executemany`` of
  Core's compiled INSERT (``ON CONFLICT … DO NOTHING`` where asked), which psycopg 3 sends as one pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from typing import Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

# Bound parameters per SQLite statement: SQLite's compile-time default limit (some builds allow more).
_SQLITE_PARAMS = 32766
# From this many rows on, PostgreSQL loads through COPY: below it one pipelined INSERT per row is as quick.
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
    names = list(rows[0])
    _check_columns(table, names)
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "sqlite":
        _insert_many_per_statement(connection, table, names, rows, on_conflict_do_nothing)
    elif dialect != "postgresql":
        raise NotImplementedError(f"bulk insert is written for SQLite and PostgreSQL, not {dialect}")
    elif len(rows) >= _COPY_FROM and not on_conflict_do_nothing:
        _copy(connection, table, names, rows)
    else:
        _insert_pipelined(connection, table, names, rows, on_conflict_do_nothing)


def _check_columns(table: Table, names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {', '.join(unknown)}")
    missing = [c.name for c in table.c if c.name not in names and not c.primary_key and not c.nullable]
    if missing:
        raise ValueError(f"bulk insert into {table.name} needs values for {', '.join(missing)}")


def _driver_rows(
    dialect: Dialect, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """The rows as tuples of ``names``' values in the form SQLAlchemy hands the driver."""
    columns: list[list[Any]] = []
    for name in names:
        values = [row[name] for row in rows]
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            convert = _same_value_once(process)
            values = [convert(value) for value in values]
        columns.append(values)
    return list(zip(*columns, strict=True))


def _same_value_once(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # A batch repeats one object in every row (its ``now``, its actor): convert it once.
    last: list[Any] = [object(), None]

    def convert(value: Any) -> Any:
        if value is not last[0]:
            last[0], last[1] = value, process(value)
        return last[1]

    return convert


def _insert_many_per_statement(
    connection: Connection,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    on_conflict_do_nothing: Sequence[str],
) -> None:
    """SQLite: Core compiles the one-row INSERT; each statement repeats its ``VALUES`` group per row."""
    dialect = connection.dialect
    statement = sqlite.insert(table)
    if on_conflict_do_nothing:
        statement = statement.on_conflict_do_nothing(index_elements=on_conflict_do_nothing)
    compiled = statement.compile(dialect=dialect, column_keys=list(names))
    order = list(compiled.positiontup or ())  # the parameters in the compiled (table's column) order
    head, _, rest = compiled.string.partition(" VALUES ")
    end = rest.index(")") + 1  # the group is "(?, ?, …)": bound parameters only
    group, tail = rest[:end], rest[end:]
    assert sorted(order) == sorted(names), compiled.string
    ordered = [{key: row[key] for key in order} for row in rows] if order != list(names) else rows
    built = _driver_rows(dialect, table, order, ordered)
    per = max(1, _SQLITE_PARAMS // len(order))
    for start in range(0, len(built), per):
        part = built[start : start + per]
        sql = f"{head} VALUES {', '.join([group] * len(part))}{tail}"
        connection.exec_driver_sql(sql, tuple(chain.from_iterable(part)))


def _insert_pipelined(
    connection: Connection,
    table: Table,
    names: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    on_conflict_do_nothing: Sequence[str],
) -> None:
    """PostgreSQL: Core's compiled INSERT through the driver's ``executemany`` (one pipeline in psycopg 3)."""
    statement = postgresql.insert(table)
    if on_conflict_do_nothing:
        statement = statement.on_conflict_do_nothing(index_elements=on_conflict_do_nothing)
    compiled = statement.compile(dialect=connection.dialect, column_keys=list(names))
    assert set(compiled.binds) == set(names), compiled.string  # plain column names as parameter names
    built = _driver_rows(connection.dialect, table, names, rows)
    connection.exec_driver_sql(compiled.string, [dict(zip(names, row, strict=True)) for row in built])


def _copy(
    connection: Connection, table: Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """PostgreSQL: ``COPY table (names) FROM STDIN`` on the session's own psycopg connection (so in its
    transaction). psycopg writes each driver value (psycopg's ``Json`` wrapper for JSON) in COPY's text
    format, which the server parses by the column's type as it parses a bound parameter."""
    quote = connection.dialect.identifier_preparer.quote
    sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    driver = connection.connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor, cursor.copy(sql) as copy:
        for row in _driver_rows(connection.dialect, table, names, rows):
            copy.write_row(row)


# --- Driver-form helpers still used by publication.py and pledges.py until they call insert_rows. ---
import datetime as dt  # noqa: E402
import enum  # noqa: E402
import json  # noqa: E402
import operator  # noqa: E402

from sqlalchemy import JSON, Column, Date, DateTime, Enum  # noqa: E402
from sqlalchemy.types import TypeDecorator  # noqa: E402

Convert = Callable[[Any], Any]

# SQLAlchemy's SQLite DATETIME storage format (timestamps are stored in UTC without an offset).
_SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"


def _json(value: Any) -> str | None:
    # SQLAlchemy's default JSON serializer, so these rows store what insert_rows and the ORM store.
    return None if value is None else json.dumps(value)


def _timestamp(sqlite: bool) -> Convert:
    last: list[Any] = [None, None]  # one batch shares one ``now``: format it once

    def convert(value: dt.datetime | None) -> Any:
        if value is None:
            return None
        if value is last[0]:
            return last[1]
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: timestamps must be timezone-aware")
        utc = value.astimezone(dt.UTC)
        out = utc.strftime(_SQLITE_DATETIME) if sqlite else utc
        last[0], last[1] = value, out
        return out

    return convert


def _enum(kind: Enum) -> Convert:
    # Enum columns store the member's name (SQLAlchemy's default); accept a member, its value or its name.
    names: dict[Any, str] = {}
    for member in kind.enum_class or ():
        assert isinstance(member, enum.Enum)
        names[member] = names[member.name] = member.name
        names[member.value] = member.name

    def convert(value: Any) -> str | None:
        if value is None:
            return None
        try:
            return names[value]
        except KeyError:
            raise ValueError(f"{value!r} is not a valid {kind.name}") from None

    return convert


def _converter(column: Column[Any], sqlite: bool) -> tuple[Convert | None, str]:
    """(conversion or None for pass-through, SQL cast on PostgreSQL or "")."""
    kind = column.type
    if isinstance(kind, TypeDecorator):
        kind = kind.impl_instance
    if isinstance(kind, DateTime):
        return _timestamp(sqlite), ""
    if isinstance(kind, Date):
        return ((lambda v: None if v is None else v.isoformat()) if sqlite else None), ""
    if isinstance(kind, Enum):
        return _enum(kind), "" if sqlite or not kind.native_enum else f"::{kind.name}"
    if isinstance(kind, JSON):
        return _json, "" if sqlite else "::json"
    return None, ""


def _insert_driver_rows(
    session: Session,
    table: Table,
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    on_conflict_do_nothing: Sequence[str],
) -> None:
    """The INSERT of rows already in driver form, on the session's connection."""
    connection = session.connection()
    dialect = connection.dialect
    sqlite = dialect.name == "sqlite"
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    marks = [mark + _converter(table.c[name], sqlite)[1] for name in names]
    quote = dialect.identifier_preparer.quote
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in names)}) VALUES "
    conflict = ""
    if on_conflict_do_nothing:
        conflict = f" ON CONFLICT ({', '.join(quote(n) for n in on_conflict_do_nothing)}) DO NOTHING"
    if not sqlite:
        connection.exec_driver_sql(f"{head}({', '.join(marks)}){conflict}", list(rows))
        return
    # SQLite: many rows per statement, which costs less than executemany's reset, bind and step per row
    # (~10 % of the sweep's CPU). A column that is NULL in every row of a statement is written as the
    # literal NULL: the driver runs each bound None through its adapter lookup, a few percent more.
    per = max(1, _SQLITE_PARAMS // len(names))
    for start in range(0, len(rows), per):
        part = rows[start : start + per]
        columns = list(zip(*part, strict=True))
        bound = [i for i, values in enumerate(columns) if values.count(None) != len(part)]
        kept = set(bound)
        row = f"({', '.join(marks[i] if i in kept else 'NULL' for i in range(len(names)))})"
        if len(bound) == len(names):
            params = tuple(chain.from_iterable(part))
        else:
            params = tuple(chain.from_iterable(zip(*[columns[i] for i in bound], strict=True)))
        connection.exec_driver_sql(head + ", ".join([row] * len(part)) + conflict, params)


def _row_builder(
    names: list[str], converters: list[Convert | None]
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    # itemgetter reads a row's values in C; only the columns that need it are converted in Python.
    getter = operator.itemgetter(*names)
    convert = [(i, c) for i, c in enumerate(converters) if c is not None]
    single = len(names) == 1

    def build(row: Mapping[str, Any]) -> tuple[Any, ...]:
        values = [getter(row)] if single else list(getter(row))
        for i, c in convert:
            values[i] = c(values[i])
        return tuple(values)  # SQLAlchemy hands the driver tuples or dicts, not lists

    return build


def column_converter(table: Table, name: str, dialect_name: str) -> Convert:
    """The conversion ``insert_rows`` applies to a value of column ``name`` (the identity when none)."""
    convert = _converter(table.c[name], dialect_name == "sqlite")[0]
    return convert if convert is not None else _same


def _same(value: Any) -> Any:
    return value


def row_converter(
    table: Table, names: Sequence[str], dialect_name: str
) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """The conversion ``insert_rows`` applies to a row of ``names``' values, as a function of a sequence:
    for a caller that prepares rows in driver form elsewhere (the import's validating child process) and
    hands them to ``insert_converted``."""
    sqlite = dialect_name == "sqlite"
    converters = [_converter(table.c[name], sqlite)[0] for name in names]
    convert = [(i, c) for i, c in enumerate(converters) if c is not None]

    def build(row: Sequence[Any]) -> tuple[Any, ...]:
        values = list(row)
        for i, c in convert:
            values[i] = c(values[i])
        return tuple(values)

    return build


def insert_converted(
    session: Session,
    table: Table,
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
    *,
    on_conflict_do_nothing: Sequence[str] = (),
) -> None:
    """``insert_rows`` for rows already in driver form (``row_converter``'s output, or constants converted
    once), as tuples of ``names``' values: the same statements and stored values without the per-row
    conversion in this process."""
    if not rows:
        return
    _check_columns(table, names)
    _insert_driver_rows(session, table, names, rows, on_conflict_do_nothing)


def insert_converted_shared(
    session: Session,
    table: Table,
    shared: Mapping[str, Any],
    names: Sequence[str],
    rows: Sequence[tuple[Any, ...]],
) -> None:
    """``insert_converted`` for rows whose ``shared`` columns hold one value (in driver form) for every
    row, such as a batch's timestamp, actor and state: the same stored rows.

    On SQLite the shared values are bound once per statement (``INSERT … SELECT ?, …, column1, … FROM
    (VALUES …)``) instead of once per row: binding a parameter (its UTF-8 copy and the VALUES row's
    register) cost more per row than some of the B-tree inserts, and a register event has 13 shared
    columns of 17. The VALUES rows have no column affinity, so each value takes the table column's
    affinity as in a plain ``INSERT … VALUES``. Other databases get the rows written out in full.
    """
    if not rows:
        return
    fixed = list(shared)
    _check_columns(table, [*fixed, *names])
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite":
        values = tuple(shared.values())
        _insert_driver_rows(session, table, [*fixed, *names], [values + row for row in rows], ())
        return
    quote = dialect.identifier_preparer.quote
    # A None shared by every row is the literal NULL, as _insert_driver_rows writes all-NULL columns.
    bound_fixed = [n for n in fixed if shared[n] is not None]
    select_fixed = ["?" if shared[n] is not None else "NULL" for n in fixed]
    fixed_params = tuple(shared[n] for n in bound_fixed)
    head = f"INSERT INTO {quote(table.name)} ({', '.join(quote(n) for n in [*fixed, *names])}) SELECT "
    per = max(1, (_SQLITE_PARAMS - len(fixed_params)) // max(1, len(names)))
    for start in range(0, len(rows), per):
        part = rows[start : start + per]
        # Only a column None in the first row can be None in all: the others are not transposed.
        empty = {i for i, v in enumerate(part[0]) if v is None and all(r[i] is None for r in part)}
        bound = [i for i in range(len(names)) if i not in empty]
        kept = {i: f"column{k + 1}" for k, i in enumerate(bound)}
        picked = ", ".join([*select_fixed, *(kept.get(i, "NULL") for i in range(len(names)))])
        if not bound:  # every varying column NULL throughout: one row of the select per row
            sql = f"{head}{picked} FROM (VALUES {', '.join(['(NULL)'] * len(part))})"
            connection.exec_driver_sql(sql, fixed_params)
            continue
        one = f"({', '.join(['?'] * len(bound))})"
        if not empty:
            params = tuple(chain.from_iterable(part))
        elif len(bound) == 1:
            params = tuple(r[bound[0]] for r in part)
        else:
            params = tuple(chain.from_iterable(map(operator.itemgetter(*bound), part)))
        sql = f"{head}{picked} FROM (VALUES {', '.join([one] * len(part))})"
        connection.exec_driver_sql(sql, fixed_params + params)

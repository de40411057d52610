"""The bulk insert stores exactly what the ORM stores (multi-row INSERT and PostgreSQL's COPY alike), and
the fast canonical JSON of the audit chain is byte-identical to the standard library's."""

from __future__ import annotations

import datetime as dt
import enum
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import event, insert, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from models.audit import CaseEvent, canonical_json, event_hash
from models.bulk import insert_rows
from models.db import make_engine
from models.outbox import Notification, NotificationStatus
from models.platform import DocumentKind, DocumentStatus, PlatformDocument
from tests.conftest import empty_pg_database


def _stdlib(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str).encode()


_scalars = st.none() | st.booleans() | st.integers() | st.text()
_json = st.recursive(
    _scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(_json)
def test_canonical_json_matches_the_standard_library(value: Any) -> None:
    # Any text (control characters, U+2028, CJK), integers beyond 64 bits, floats, nesting.
    try:
        expected = _stdlib(value)
    except UnicodeEncodeError:  # a lone surrogate: neither library can write it as UTF-8
        return
    assert canonical_json(value) == expected


class _Colour(enum.Enum):
    RED = "red"


class _Mode(enum.StrEnum):
    FAST = "fast"


@pytest.mark.parametrize(
    "value",
    [
        {"day": dt.date(2026, 3, 2), "at": dt.datetime(2026, 3, 2, 1, tzinfo=dt.UTC)},
        {"colour": _Colour.RED, "mode": _Mode.FAST},
        {"nested": {"b": [1, (2, 3)], "a": None}, "x": 1.5e-7},
        {1: "int key"},
        {"big": 2**70},
    ],
)
def test_canonical_json_matches_for_other_python_values(value: Any) -> None:
    assert canonical_json(value) == _stdlib(value)


def test_event_hash_is_unchanged_for_a_known_event() -> None:
    # A chain written before the faster serializer must still verify: a fixed expected digest.
    fields = {"kind": "pledge", "case": 7, "seq": 2, "event": "publish", "from": "overdue",
              "to": "published", "actor": None, "actor_name": "系统自动", "role": "system",
              "at": "2026-03-02T01:00:00.000000+00:00", "note": "逾期\n未履行",
              "data": {"record_number": "XY-2026-0000001"}, "run": None}  # fmt: skip
    expected = __import__("hashlib").sha256(("ab" + _stdlib(fields).decode()).encode()).hexdigest()
    assert event_hash("ab", fields) == expected


NOW = dt.datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _notification(key: str, email: str | None) -> dict[str, Any]:
    return {
        "template": "pledge_published", "recipient_kind": "pledgor", "recipient_name": "某某公司",
        "recipient_email": email, "channel": "email", "case_kind": "pledge", "case_id": 1,
        "case_number": "CN-2026-0000001",
        "context": {"record_number": "XY-1", "days": [1, 2], "名称": "中文"},
        "status": NotificationStatus.PENDING if email else NotificationStatus.UNDELIVERABLE,
        "attempts": 0, "next_attempt_at": NOW, "last_error": None, "idempotency_key": key,
        "created_at": NOW, "sent_at": None, "flow_run_id": None,
    }  # fmt: skip


def _read(engine: Engine, model: Any, key: str, value: Any) -> Any:
    with Session(engine) as session:
        return session.exec(select(model).where(getattr(model, key) == value)).one()[0]  # type: ignore[call-overload]


def test_bulk_insert_reads_back_like_a_core_insert(engine: Engine) -> None:
    table = Notification.__table__  # type: ignore[attr-defined]
    with Session(engine) as session:
        session.execute(insert(table), [_notification("core", "a@example.com")])
        insert_rows(session, table, [_notification("bulk", "a@example.com"), _notification("none", None)])
        session.commit()
    core, bulk = (
        _read(engine, Notification, "idempotency_key", "core"),
        _read(engine, Notification, "idempotency_key", "bulk"),
    )
    for field in ("template", "recipient_name", "context", "status", "next_attempt_at", "created_at"):
        assert getattr(bulk, field) == getattr(core, field), field
    assert bulk.next_attempt_at == NOW
    assert bulk.next_attempt_at.tzinfo is not None
    assert _read(engine, Notification, "idempotency_key", "none").status == NotificationStatus.UNDELIVERABLE

    with Session(engine) as session:  # the queue's own query still finds the row by status and time
        due = session.exec(
            select(Notification).where(
                Notification.status == NotificationStatus.PENDING,  # type: ignore[arg-type]
                Notification.next_attempt_at <= NOW + dt.timedelta(seconds=1),  # type: ignore[arg-type]
            )
        ).all()
        assert {n[0].idempotency_key for n in due} == {"core", "bulk"}


def test_bulk_insert_skips_duplicates_when_asked_and_fails_otherwise(engine: Engine) -> None:
    table = Notification.__table__  # type: ignore[attr-defined]
    with Session(engine) as session:
        insert_rows(session, table, [_notification("k", "a@example.com")])
        insert_rows(
            session, table, [_notification("k", "b@example.com"), _notification("k2", None)],
            on_conflict_do_nothing=["idempotency_key"],
        )  # fmt: skip
        session.commit()
        assert session.exec(select(table.c.idempotency_key).order_by(table.c.id)).all() == [("k",), ("k2",)]
        # The error callers retry on (a sweep that lost a race), from a small batch and from a large one
        # (PostgreSQL loads that with COPY).
        for batch in ([_notification("k", None)], [_notification(f"n{i}", None) for i in range(1200)] * 2):
            with pytest.raises(IntegrityError, match="(?i)unique|duplicate"):
                insert_rows(session, table, batch)
            session.rollback()


def test_bulk_insert_of_enums_and_json_documents(engine: Engine) -> None:
    row = {
        "document_id": "XY-1:publish", "kind": DocumentKind.PUBLISH, "breach_id": 1,
        "payload": {"record": {"name": "某某公司", "end": "2029-03-02"}}, "status": "pending",
        "attempts": 0, "next_attempt_at": NOW, "last_error": None, "created_at": NOW, "sent_at": None,
    }  # fmt: skip
    with Session(engine) as session:
        insert_rows(session, PlatformDocument.__table__, [row])  # type: ignore[attr-defined]
        session.commit()
    doc = _read(engine, PlatformDocument, "document_id", "XY-1:publish")
    assert (doc.kind, doc.status) == (DocumentKind.PUBLISH, DocumentStatus.PENDING)
    assert doc.payload == row["payload"]


def test_bulk_insert_refuses_bad_rows_before_writing(engine: Engine) -> None:
    table = CaseEvent.__table__  # type: ignore[attr-defined]
    with Session(engine) as session:
        with pytest.raises(ValueError, match="no column"):
            insert_rows(session, table, [{"case_kind": "pledge", "colour": "red"}])
        with pytest.raises(ValueError, match="needs values for"):
            insert_rows(session, table, [{"case_kind": "pledge"}])
        naive = _notification("naive", None) | {"created_at": dt.datetime(2026, 3, 2)}
        with pytest.raises(ValueError, match="naive datetime"):
            insert_rows(session, Notification.__table__, [naive])  # type: ignore[attr-defined]
        session.rollback()
        assert session.exec(select(Notification.__table__.c.id)).all() == []  # type: ignore[attr-defined]


def _stored_as_text(engine: Engine, key: str) -> dict[str, Any]:
    # The values as the database holds them, read as text: no type processing on the way back.
    table = Notification.__table__  # type: ignore[attr-defined]
    names = [c.name for c in table.c if c.name not in ("id", "idempotency_key")]
    casts = ", ".join(f"CAST({n} AS TEXT) AS {n}" for n in names)
    with engine.connect() as conn:
        sql = text(f"SELECT {casts} FROM notification WHERE idempotency_key = :key")
        return dict(conn.execute(sql, {"key": key}).mappings().one())


@pytest.mark.parametrize("copy_from", [1, 10_000], ids=["copy", "insert"])
def test_bulk_insert_stores_exactly_what_the_orm_stores(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, copy_from: int
) -> None:
    # ``copy_from`` 1 sends even one row through PostgreSQL's COPY; SQLite always uses a multi-row INSERT.
    monkeypatch.setattr("models.bulk._COPY_FROM", copy_from)
    with Session(engine) as session:
        session.add(Notification(**_notification("orm", "a@example.com")))
        session.add(Notification(**_notification("orm-none", None)))
        session.commit()
        insert_rows(session, Notification.__table__, [_notification("bulk", "a@example.com")])  # type: ignore[attr-defined]
        insert_rows(session, Notification.__table__, [_notification("bulk-none", None)])  # type: ignore[attr-defined]
        session.commit()
    assert _stored_as_text(engine, "bulk") == _stored_as_text(engine, "orm")
    assert _stored_as_text(engine, "bulk-none") == _stored_as_text(engine, "orm-none")


def test_bulk_insert_of_many_rows_keeps_their_order_and_values(engine: Engine) -> None:
    # 2,500 rows: PostgreSQL loads them with COPY, SQLite in statements of ~2,000 rows.
    table = Notification.__table__  # type: ignore[attr-defined]
    rows = [_notification(f"k{i}", None if i % 3 else f"{i}@example.com") for i in range(2500)]
    with Session(engine) as session:
        insert_rows(session, table, rows)
        session.commit()
        stored = session.exec(
            select(table.c.idempotency_key, table.c.recipient_email, table.c.context).order_by(table.c.id)
        ).all()
    assert [tuple(r) for r in stored] == [
        (r["idempotency_key"], r["recipient_email"], r["context"]) for r in rows
    ]
    assert _read(engine, Notification, "idempotency_key", "k2499").next_attempt_at == NOW


def test_bulk_insert_spanning_several_statements_keeps_order_and_skips_duplicates(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Many rows go into one statement; a small parameter budget makes these 7 rows take
    # three statements, with a duplicate inside one and across two of them. The rows differ in three
    # columns (address, context, key); the others are bound once per statement.
    varying = 3
    budget = len(_notification("x", None)) - varying + 3 * varying
    monkeypatch.setattr("models.bulk._SQLITE_PARAMS", budget)
    monkeypatch.setattr("models.bulk._POSTGRES_PARAMS", budget)
    table = Notification.__table__  # type: ignore[attr-defined]
    keys = ["a", "b", "a", "c", "d", "b", "e"]
    statements = _inserts_into(engine, "notification")
    with Session(engine) as session:
        insert_rows(
            session, table, [_notification(k, f"{i}@example.com") for i, k in enumerate(keys)],
            on_conflict_do_nothing=["idempotency_key"],
        )  # fmt: skip
        session.commit()
        assert len(statements) == 3
        rows = session.exec(select(table.c.idempotency_key, table.c.recipient_email).order_by(table.c.id))
        assert rows.all() == [
            ("a", "0@example.com"), ("b", "1@example.com"), ("c", "3@example.com"),
            ("d", "4@example.com"), ("e", "6@example.com"),
        ]  # fmt: skip


@pytest.mark.parametrize("copy_from", [1, 10_000], ids=["copy", "insert"])
def test_bulk_insert_skipping_duplicates_stores_what_the_orm_stores_in_order(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, copy_from: int
) -> None:
    # ``copy_from`` 1: PostgreSQL's COPY into a temporary table, then INSERT … SELECT … ON CONFLICT.
    monkeypatch.setattr("models.bulk._COPY_FROM", copy_from)
    table = Notification.__table__  # type: ignore[attr-defined]
    with Session(engine) as session:
        session.add(Notification(**_notification("orm", "a@example.com")))
        session.add(Notification(**_notification("stored", "s@example.com")))
        session.commit()
        keys = ["a", "stored", "b", "a", "c"]  # one stored already, one repeated in the batch
        rows = [_notification(k, f"{i}@example.com") for i, k in enumerate(keys)]
        rows.append(_notification("bulk", "a@example.com"))
        insert_rows(session, table, rows, on_conflict_do_nothing=["idempotency_key"])
        insert_rows(session, table, [_notification("d", None)], on_conflict_do_nothing=["idempotency_key"])
        session.commit()
        stored = session.exec(select(table.c.idempotency_key, table.c.recipient_email).order_by(table.c.id))
        assert stored.all() == [
            ("orm", "a@example.com"), ("stored", "s@example.com"), ("a", "0@example.com"),
            ("b", "2@example.com"), ("c", "4@example.com"), ("bulk", "a@example.com"), ("d", None),
        ]  # fmt: skip
    assert _stored_as_text(engine, "bulk") == _stored_as_text(engine, "orm")


def test_bulk_insert_keeps_a_column_that_is_null_only_in_some_rows(engine: Engine) -> None:
    table = Notification.__table__  # type: ignore[attr-defined]
    with Session(engine) as session:
        insert_rows(session, table, [_notification("n1", None), _notification("n2", "b@example.com")])
        session.commit()
        rows = session.exec(
            select(table.c.idempotency_key, table.c.recipient_email, table.c.sent_at).order_by(table.c.id)
        )
        assert rows.all() == [("n1", None, None), ("n2", "b@example.com", None)]


def _inserts_into(engine: Engine, table: str) -> list[Any]:
    """The parameters of each INSERT into ``table`` the engine runs from now on (for the test's life)."""
    seen: list[Any] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if statement.startswith(f"INSERT INTO {table} "):
            seen.append(parameters)

    event.listen(engine, "before_cursor_execute", record)
    return seen


def test_bulk_insert_binds_a_batchs_shared_values_once_and_stores_them_as_one_row_inserts(
    engine: Engine,
) -> None:
    # The rows share one ``now``, status, template … (the same objects, as a sweep batch's rows do) and
    # differ in key and address: the shared columns are bound once per statement.
    table = Notification.__table__  # type: ignore[attr-defined]
    rows = [_notification(f"m{i}", f"{i}@example.com") for i in range(3)]
    statements = _inserts_into(engine, "notification")
    with Session(engine) as session:
        insert_rows(session, table, rows)
        for i in range(3):  # one row per insert: every value bound for its row
            insert_rows(session, table, [_notification(f"s{i}", f"{i}@example.com")])
        session.commit()
        stored = session.exec(select(table).order_by(table.c.id)).all()
    row_width = len(rows[0])
    varying = 3  # recipient_email, context, idempotency_key
    assert len(statements[0]) == (row_width - varying) + 3 * varying
    columns = [c for c in table.c.keys() if c not in ("id", "idempotency_key")]
    batch = [tuple(getattr(r, c) for c in columns) for r in stored[:3]]
    alone = [tuple(getattr(r, c) for c in columns) for r in stored[3:]]
    assert batch == alone
    assert [r.idempotency_key for r in stored] == ["m0", "m1", "m2", "s0", "s1", "s2"]


def test_bulk_insert_of_identical_rows_and_of_rows_differing_in_one_column(engine: Engine) -> None:
    # Every column shared (one still carries the rows) and all but one shared: nothing is lost or shifted.
    table = Notification.__table__  # type: ignore[attr-defined]
    same = _notification("x", "a@example.com")
    with Session(engine) as session:
        insert_rows(session, table, [{**same, "idempotency_key": key} for key in ("i1", "i2", "i3")])
        insert_rows(session, table, [same, same], on_conflict_do_nothing=["idempotency_key"])
        session.commit()
        stored = session.exec(select(table.c.idempotency_key, table.c.recipient_email).order_by(table.c.id))
        assert stored.all() == [(k, "a@example.com") for k in ("i1", "i2", "i3", "x")]


@pytest.mark.postgres
def test_bulk_insert_after_the_server_dropped_the_connection_fails_like_any_statement(pg_url: str) -> None:
    # A lost connection under the raw-cursor INSERT and under COPY (PostgreSQL's): SQLAlchemy's
    # OperationalError with the connection invalidated, the rollback quiet, and the next session inserts
    # on a fresh connection.
    engine = make_engine(pg_url)
    empty_pg_database(engine)
    table = Notification.__table__  # type: ignore[attr-defined]
    for size in (1, 1200):  # the numbered INSERT and COPY
        with Session(engine) as session:
            pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid, 10000)"), {"pid": pid})  # waits for it
            with pytest.raises(OperationalError) as raised:
                insert_rows(session, table, [_notification(f"d{size}-{i}", None) for i in range(size)])
            assert raised.value.connection_invalidated
            session.rollback()
        with Session(engine) as session:
            insert_rows(session, table, [_notification(f"after{size}", None)])
            session.commit()
            assert session.exec(select(table.c.idempotency_key)).all() == [
                (f"after{n}",) for n in (1, 1200) if n <= size
            ]
    engine.dispose()

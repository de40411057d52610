"""models.bulk.insert_converted_shared (the import's inserts) stores exactly what insert_rows stores."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.bulk import insert_converted_shared, insert_rows, row_converter
from models.outbox import Notification, NotificationStatus

NOW = dt.datetime(2026, 3, 2, 8, 30, 0, 123456, tzinfo=dt.UTC)
TABLE = Notification.__table__  # type: ignore[attr-defined]
SHARED = ("template", "recipient_kind", "case_kind", "attempts", "next_attempt_at", "created_at", "sent_at",
          "flow_run_id")  # fmt: skip
OWN = ("recipient_name", "recipient_email", "case_id", "case_number", "context", "status", "last_error",
       "idempotency_key")  # fmt: skip


def _mail(i: int, email: str | None) -> dict[str, Any]:
    return {
        "template": "pledge_registered", "recipient_kind": "pledgor", "recipient_name": f"某某公司{i}",
        "recipient_email": email, "case_kind": "pledge", "case_id": i, "case_number": f"CN-2026-{i:07d}",
        "context": {"pledge_number": f"CN-2026-{i:07d}", "名称": "中文", "n": i},
        "status": NotificationStatus.PENDING if email else NotificationStatus.UNDELIVERABLE,
        "attempts": 0, "next_attempt_at": NOW, "last_error": None if email else "无电子邮箱",
        "idempotency_key": f"{{}}:{i}", "created_at": NOW, "sent_at": None, "flow_run_id": None,
    }  # fmt: skip


def _stored(session: Session, prefix: str) -> list[tuple[Any, ...]]:
    columns = [c for c in TABLE.c if c.name != "id"]
    rows = session.execute(
        select(*columns).where(TABLE.c.idempotency_key.like(f"{prefix}:%")).order_by(TABLE.c.id)
    ).all()
    keep = [i for i, c in enumerate(columns) if c.name != "idempotency_key"]
    return [tuple(row[i] for i in keep) for row in rows]


@pytest.mark.parametrize("params", [None, 3 * len(OWN) + len(SHARED)])
def test_shared_columns_store_what_insert_rows_stores(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, params: int | None
) -> None:
    # With a small parameter budget the 8 rows take three SQLite statements, one of which has no
    # e-mail address in any row (a varying column NULL throughout) and one with a shared NULL.
    if params is not None:
        monkeypatch.setattr("models.bulk._SQLITE_PARAMS", params)
    emails = ["a@example.com", None, "c@example.com", None, None, None, "g@example.com", None]
    general = [_mail(i, e) | {"idempotency_key": f"rows:{i}"} for i, e in enumerate(emails)]
    with Session(engine) as session:
        dialect = session.connection().dialect.name
        insert_rows(session, TABLE, general)
        own = row_converter(TABLE, OWN, dialect)
        shared = dict(zip(SHARED, row_converter(TABLE, SHARED, dialect)([general[0][n] for n in SHARED]),
                          strict=True))  # fmt: skip
        converted = [own([m[n] for n in OWN]) for m in general]
        converted = [(*r[:-1], r[-1].replace("rows:", "shared:")) for r in converted]
        insert_converted_shared(session, TABLE, shared, OWN, converted)
        session.commit()
        assert _stored(session, "shared") == _stored(session, "rows")
        assert len(_stored(session, "shared")) == len(emails)
        read = session.exec(select(Notification).where(Notification.idempotency_key == "shared:1")).one()[0]  # type: ignore[arg-type]
        assert read.status == NotificationStatus.UNDELIVERABLE
        assert read.created_at == NOW
        assert read.context["名称"] == "中文"


def test_shared_columns_are_checked_like_the_others(engine: Engine) -> None:
    with Session(engine) as session:
        with pytest.raises(ValueError, match="no column"):
            insert_converted_shared(session, TABLE, {"colour": "red"}, OWN, [tuple(range(len(OWN)))])
        with pytest.raises(ValueError, match="needs values for"):
            insert_converted_shared(session, TABLE, {}, OWN, [tuple(range(len(OWN)))])
        insert_converted_shared(session, TABLE, {}, OWN, [])  # nothing to insert: no statement


def test_a_statement_left_with_one_varying_column(engine: Engine) -> None:
    # Every address None: that column is the literal NULL and only the keys are bound per row.
    general = [_mail(0, None) | {"idempotency_key": f"rows:{i}"} for i in range(3)]
    own = ("idempotency_key", "recipient_email")
    with Session(engine) as session:
        dialect = session.connection().dialect.name
        insert_rows(session, TABLE, general)
        names = [n for n in general[0] if n not in own]
        shared = dict(zip(names, row_converter(TABLE, names, dialect)([general[0][n] for n in names]),
                          strict=True))  # fmt: skip
        insert_converted_shared(session, TABLE, shared, own, [(f"shared:{i}", None) for i in range(3)])
        session.commit()
        assert _stored(session, "shared") == _stored(session, "rows")

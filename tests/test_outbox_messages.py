"""A message queued in the outbox is the same row whichever path queued it (``enqueue`` for one decision,
the bulk insert of the sweep and the import; both built by ``outbox_row``), ``enqueue`` keeps the order of
the caller's statements, and one decision's message is queued once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.bulk import insert_rows
from models.clock import utcnow
from models.org import Department
from models.outbox import Notification, enqueue, outbox_row

COMMON: dict[str, Any] = {
    "template": "complaint_received",
    "recipient_kind": "complainant",
    "recipient_name": "某某公司",
    "context": {"case_number": "TS-2026-000001", "access_code": "secret", "n": 3},
    "case_kind": "complaint",
    "case_id": 7,
    "case_number": "TS-2026-000001",
    "flow_run_id": None,
}


def _stored(session: Session, key: str) -> dict[str, Any]:
    row = session.exec(select(Notification).where(Notification.idempotency_key == key)).one()
    return row.model_dump(exclude={"id", "idempotency_key", "created_at", "next_attempt_at"})


@pytest.mark.parametrize("email", ["boss@example.com", None])
def test_a_message_is_stored_alike_whether_queued_alone_or_in_bulk(
    session: Session, email: str | None
) -> None:
    queued = enqueue(session=session, key="k:one", recipient_email=email, **COMMON)
    table = Notification.__table__  # type: ignore[attr-defined]
    insert_rows(session, table, [outbox_row(key="k:bulk", recipient_email=email, now=utcnow(), **COMMON)])
    session.commit()
    session.expire_all()
    assert _stored(session, "k:one") == _stored(session, "k:bulk")
    assert session.get(Notification, queued) is not None  # the id returned is the stored row's
    with pytest.raises(IntegrityError):  # the same key twice: the unique constraint, at once
        enqueue(session=session, key="k:one", recipient_email=email, **COMMON)
    session.rollback()


def test_the_callers_pending_changes_are_written_before_the_message(session: Session) -> None:
    department = Department(code="Q01", name="排序测试局")
    session.add(department)
    queued = enqueue(session=session, key="k:after", recipient_email="a@example.com", **COMMON)
    # Written (it has its id) by the time the message went in: their statements keep the caller's order.
    assert department.id is not None
    session.commit()
    assert session.get(Notification, queued) is not None

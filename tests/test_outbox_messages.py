"""A message queued in the outbox is the same row whichever way it is queued (both are built by
``outbox_row``), and one decision's message is queued once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from models.outbox import Notification, enqueue, enqueue_now


def _stored(session: Session, key: str) -> dict[str, Any]:
    row = session.exec(select(Notification).where(Notification.idempotency_key == key)).one()
    return row.model_dump(exclude={"id", "idempotency_key", "created_at", "next_attempt_at"})


@pytest.mark.parametrize("email", ["boss@example.com", None])
def test_a_message_is_stored_alike_whether_queued_now_or_at_the_flush(
    session: Session, email: str | None
) -> None:
    common: dict[str, Any] = {
        "template": "complaint_received",
        "recipient_kind": "complainant",
        "recipient_name": "某某公司",
        "recipient_email": email,
        "context": {"case_number": "TS-2026-000001", "access_code": "secret", "n": 3},
        "case_kind": "complaint",
        "case_id": 7,
        "case_number": "TS-2026-000001",
        "flow_run_id": None,
    }
    enqueue(session=session, key="k:orm", **common)
    enqueue_now(session=session, key="k:core", **common)
    session.commit()
    session.expire_all()
    assert _stored(session, "k:core") == _stored(session, "k:orm")
    with pytest.raises(IntegrityError):  # the same key twice: the unique constraint, at once
        enqueue_now(session=session, key="k:core", **common)
    session.rollback()

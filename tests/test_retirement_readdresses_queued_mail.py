"""Mail queued to a department and not yet sent when it is retired goes to its successor, greeted by the
successor's name; mail already sent, and mail to other departments, is left as it was. With no address for
the successor the readdressed mail says it cannot be sent, as a new one would."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from models.calendar import WorkCalendar
from models.department_retire import retire_by_code
from models.lifecycle import Role
from models.outbox import NO_EMAIL, Notification, NotificationStatus, enqueue
from models.workflow import Actor
from tests.test_scorecard import _complaint

ADMIN = Actor(name="管理员", role=Role.ADMIN)
REASON = "根据《市级机构改革方案》，市住房和城乡建设局并入市财政局"
RETIRED_AT = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)
OLD_NAME, OLD_EMAIL = "市住房和城乡建设局", "zjj@example.gov.cn"


def _queue_to(session: Session, name: str, email: str, key: str, status: NotificationStatus) -> int:
    """A notice to a department known by name and address only (as a breach record's deciding body is)."""
    row_id = enqueue(
        session=session,
        template="breach_request_received",
        recipient_kind="department",
        recipient_name=name,
        recipient_email=email,
        key=key,
        context={"department_name": name, "case_number": "XY2026000001"},
    )
    row = session.get(Notification, row_id)
    assert row is not None
    row.status = status
    session.add(row)
    session.commit()
    return row_id


def _rows(session: Session) -> dict[str, Notification]:
    session.expire_all()
    return {n.idempotency_key: n for n in session.exec(select(Notification)).all()}


@pytest.mark.usefixtures("staff")
def test_mail_queued_to_a_retired_department_goes_to_its_successor(
    session: Session, calendar: WorkCalendar, today: dt.date
) -> None:
    _complaint(session, calendar, today, "D01")  # the dispatch mail to D01, keyed by its id
    _queue_to(session, OLD_NAME, OLD_EMAIL, "breach:1:3:breach_request_received", NotificationStatus.PENDING)
    _queue_to(session, OLD_NAME, OLD_EMAIL, "breach:2:3:breach_request_received", NotificationStatus.SENT)
    _queue_to(session, "市发展和改革委员会", "fgw@example.gov.cn", "breach:3:3:x", NotificationStatus.PENDING)
    session.commit()
    [dispatch_key] = [k for k, n in _rows(session).items() if n.template == "complaint_dispatched"]

    result = retire_by_code(
        session=session, code="D01", successor_code="D02", actor=ADMIN, now=RETIRED_AT, reason=REASON
    )
    session.commit()

    assert result.notifications_readdressed == 2
    rows = _rows(session)
    for key in (dispatch_key, "breach:1:3:breach_request_received"):
        row = rows[key]
        assert (row.recipient_name, row.recipient_email, row.status) == (
            "市财政局",
            "czj@example.gov.cn",
            NotificationStatus.PENDING,
        )
        assert row.context["department_name"] == "市财政局"
        # Due again now: a delivery run that claimed it for the old address can no longer record it sent.
        assert row.next_attempt_at is not None
        assert row.next_attempt_at.replace(tzinfo=dt.UTC) == RETIRED_AT
    sent = rows["breach:2:3:breach_request_received"]
    assert (sent.recipient_name, sent.recipient_email) == (OLD_NAME, OLD_EMAIL)
    other = rows["breach:3:3:x"]
    assert (other.recipient_name, other.recipient_email) == ("市发展和改革委员会", "fgw@example.gov.cn")


@pytest.mark.usefixtures("staff")
def test_mail_readdressed_to_a_successor_without_an_address_is_marked_undeliverable(
    session: Session,
) -> None:
    _queue_to(session, OLD_NAME, OLD_EMAIL, "breach:1:3:breach_request_received", NotificationStatus.PENDING)

    result = retire_by_code(
        session=session, code="D01", successor_code="K01", actor=ADMIN, now=RETIRED_AT, reason=REASON
    )
    session.commit()

    assert result.notifications_readdressed == 1
    row = _rows(session)["breach:1:3:breach_request_received"]
    assert (row.recipient_name, row.recipient_email) == ("新城区人民政府", None)
    assert (row.status, row.last_error) == (NotificationStatus.UNDELIVERABLE, NO_EMAIL)

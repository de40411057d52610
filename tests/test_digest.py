"""Supervisors' daily digest: working days only (make-up days included), once per day."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, select

from models.calendar import WorkCalendar
from models.complaint import Category, Channel, Complaint
from models.digest import digest_rows, queue_daily_digest
from models.org import Department
from models.outbox import Notification
from notifications.render import render
from tests.conftest import Staff


def _complaint(session: Session, n: int, dept: str, deadline: dt.date, state: str = "dispatched") -> None:
    lead = session.exec(select(Department).where(Department.code == dept)).one()
    session.add(
        Complaint(
            number=f"TS-2026-{n:06d}",
            year=2026,
            seq=n,
            channel=Channel.WINDOW,
            complainant_name="某企业",
            complainant_phone="13900000000",
            category=Category.PROCUREMENT,
            summary="合同款未付",
            tracking_password_hash="x",
            state=state,
            lead_department_id=lead.id,
            stage_deadline=deadline,
        )
    )


def test_rows_count_overdue_and_due_soon_per_department(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    today = dt.date(2026, 3, 2)
    _complaint(session, 1, "D01", dt.date(2026, 2, 27))  # overdue
    _complaint(session, 2, "D01", dt.date(2026, 3, 4))  # 2nd working day after today: due soon
    _complaint(session, 3, "D01", dt.date(2026, 3, 5))  # later
    _complaint(session, 4, "D02", dt.date(2026, 2, 20), state="closed")  # closed: not counted
    session.flush()
    rows = digest_rows(session=session, today=today, calendar=calendar)
    assert [(r["department_name"], r["overdue"], r["due_soon"]) for r in rows] == [
        ("市住房和城乡建设局", 1, 1)
    ]
    assert [(c["number"], c["overdue"]) for c in rows[0]["cases"]] == [
        ("TS-2026-000001", True),
        ("TS-2026-000002", False),
    ]


def test_digest_mail_names_the_cases_with_links_to_their_pages(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    _complaint(session, 1, "D01", dt.date(2026, 2, 27))  # overdue
    _complaint(session, 2, "D02", dt.date(2026, 3, 3))  # due soon
    _complaint(session, 3, "D02", dt.date(2026, 3, 20))  # later: counted nowhere, not named
    session.flush()
    ids = {c.number: c.id for c in session.exec(select(Complaint)).all()}
    assert queue_daily_digest(session=session, today=dt.date(2026, 3, 2), calendar=calendar) == 1
    row = session.exec(select(Notification).where(Notification.template == "daily_digest")).one()
    message = render(row.template, row.context)
    base = "http://127.0.0.1:8000/staff/complaints/"
    assert (
        f"TS-2026-000001（投诉办理环节，已超期，期限2026年2月27日）{base}{ids['TS-2026-000001']}"
        in message.text
    )
    assert (
        f"TS-2026-000002（投诉办理环节，临期，期限2026年3月3日）{base}{ids['TS-2026-000002']}" in message.text
    )
    assert f'<a href="{base}{ids["TS-2026-000002"]}"' in message.html
    assert "TS-2026-000003" not in message.text


def test_digest_goes_out_on_working_days_once(session: Session, staff: Staff, calendar: WorkCalendar) -> None:
    _complaint(session, 1, "D01", dt.date(2026, 9, 1))
    assert (
        queue_daily_digest(session=session, today=dt.date(2026, 10, 1), calendar=calendar) == 0
    )  # National Day
    assert (
        queue_daily_digest(session=session, today=dt.date(2026, 10, 4), calendar=calendar) == 0
    )  # holiday Sunday
    # 2026-09-20 is a Sunday worked in exchange for the National Day holidays.
    assert queue_daily_digest(session=session, today=dt.date(2026, 9, 20), calendar=calendar) == 1
    assert queue_daily_digest(session=session, today=dt.date(2026, 9, 20), calendar=calendar) == 0
    sent = session.exec(select(Notification).where(Notification.template == "daily_digest")).all()
    assert len(sent) == 1
    assert sent[0].recipient_name == "督办员老李"
    assert sent[0].context["rows"][0]["overdue"] == 1


def test_before_the_years_notice_the_digest_goes_out_monday_to_friday_but_not_on_new_years_day(
    session: Session, staff: Staff
) -> None:
    unknown = WorkCalendar()  # the package's years only: 2027's notice is not loaded yet
    assert not unknown.covers(2027)
    _complaint(session, 1, "D01", dt.date(2026, 12, 1))
    assert (
        queue_daily_digest(session=session, today=dt.date(2027, 1, 1), calendar=unknown) == 0
    )  # Friday, 元旦
    assert queue_daily_digest(session=session, today=dt.date(2027, 1, 2), calendar=unknown) == 0  # Saturday
    assert queue_daily_digest(session=session, today=dt.date(2027, 1, 4), calendar=unknown) >= 1  # Monday

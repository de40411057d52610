"""The dashboard and the supervisors' daily digest count overdue cases alike: a case paused awaiting the
complainant is overdue in neither; the day after a deadline a case is overdue, and its row on the dashboard
is marked so, even when that day is a holiday or a weekend. The dashboard links a case number only to a
page the viewer may open."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import dashboard
from models.calendar import HolidayPeriod, WorkCalendar, YearNotice, load_calendar, save_year_notice
from models.clock import Clock
from models.complaint import Complaint
from models.complaints import ActionBody, ReasonBody
from models.digest import DUE_SOON_WORKING_DAYS, digest_rows, queue_daily_digest
from models.lifecycle import PledgeState
from models.outbox import Notification
from models.pledge import Pledge
from notifications.render import render
from tests.conftest import Staff
from tests.test_dashboard_record_deadlines import on
from tests.test_publication import new_pledge
from tests.test_scorecard import _complaint, _handler, _run
from tests.web_support import sign_in


def _overdue_counts(session: Session, today: dt.date, calendar: WorkCalendar) -> tuple[list[int], list[int]]:
    """Overdue per department: on the dashboard, and in the digest."""
    dash = dashboard.due_by_department(
        session=session, today=today, calendar=calendar, working_days=DUE_SOON_WORKING_DAYS
    )
    digest = digest_rows(session=session, today=today, calendar=calendar)
    return [d.overdue for d in dash], [r["overdue"] for r in digest]


def test_a_case_paused_awaiting_the_complainant_is_overdue_in_neither_the_digest_nor_the_dashboard(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    day = dt.date(2026, 3, 2)
    d01 = _handler(session, "D01")
    case = _complaint(session, calendar, day, "D01")
    _run(session, calendar, day, case, (d01, "sign_for", ActionBody()))
    _run(session, calendar, day, case, (d01, "await_complainant", ReasonBody(reason="请补充合同材料")))
    session.commit()
    session.refresh(case)
    assert case.state == "awaiting_complainant"
    assert case.stage_deadline is not None  # frozen while paused, not cleared
    later = case.stage_deadline + dt.timedelta(days=7)

    assert _overdue_counts(session, later, calendar) == ([], [])
    assert queue_daily_digest(session=session, today=later, calendar=calendar) == 1
    mail = session.exec(select(Notification).where(Notification.template == "daily_digest")).one()
    text = render(mail.template, mail.context).text
    assert "无超期或临期的投诉办理环节" in text
    assert case.number not in text


def test_a_running_case_past_its_deadline_is_overdue_in_both(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    day = dt.date(2026, 3, 2)
    case = _complaint(session, calendar, day, "D01")  # dispatched: its 签收 deadline runs
    session.commit()
    session.refresh(case)
    assert case.stage_deadline is not None
    later = case.stage_deadline + dt.timedelta(days=7)
    assert _overdue_counts(session, later, calendar) == ([1], [1])


def _due_on(session: Session, calendar: WorkCalendar, deadline: dt.date) -> Complaint:
    case = _complaint(session, calendar, deadline - dt.timedelta(days=2), "D01")
    session.execute(update(Complaint).where(Complaint.id == case.id).values(stage_deadline=deadline))  # type: ignore[arg-type]
    session.commit()
    return case


def test_the_day_after_a_deadline_the_row_is_overdue_even_on_a_holiday(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar, clock: Clock
) -> None:
    case = _due_on(session, calendar, dt.date(2026, 9, 30))
    holiday = dt.date(2026, 10, 1)  # 国庆节: no working day has passed since the deadline

    [item] = dashboard.overdue_complaints(session=session, today=holiday, calendar=calendar)
    assert (item.number, item.overdue, item.working_days_left) == (case.number, True, 0)
    assert _overdue_counts(session, holiday, calendar) == ([1], [1])

    with on(engine, clock, holiday) as viewer:
        sign_in(viewer, staff.supervisor)
        page = viewer.get("/staff/dashboard").text
    table = page[page.index('id="overdue"') : page.index("</table>", page.index('id="overdue"'))]
    assert '<tr class="late">' in table
    assert '<span class="tag red">已超期</span>' in table
    assert "超期 0 个工作日" not in table

    # The first working day after the holiday, the row counts the working day missed.
    first = holiday + dt.timedelta(days=1)
    while not calendar.is_workday_if_known(first):
        first += dt.timedelta(days=1)
    [item] = dashboard.overdue_complaints(session=session, today=first, calendar=calendar)
    assert (item.overdue, item.working_days_left) == (True, -1)


def test_the_day_after_a_year_end_deadline_the_row_is_overdue_on_new_years_day(
    session: Session, staff: Staff
) -> None:
    notice = YearNotice(
        year=2027,
        holidays=[HolidayPeriod(name="元旦", start=dt.date(2027, 1, 1), end=dt.date(2027, 1, 3))],
        notice_title="国务院办公厅关于2027年部分节假日安排的通知",
        source="test",
    )
    save_year_notice(session=session, notice=notice, loaded_by="test")
    session.commit()
    calendar = load_calendar(session=session)
    _due_on(session, calendar, dt.date(2026, 12, 31))
    new_year = dt.date(2027, 1, 1)

    [item] = dashboard.overdue_complaints(session=session, today=new_year, calendar=calendar)
    assert item.overdue
    assert _overdue_counts(session, new_year, calendar) == ([1], [1])


def test_an_administrator_sees_pledge_numbers_without_links_to_pages_only_pledge_staff_open(
    client: TestClient, session: Session, staff: Staff, today: dt.date
) -> None:
    due = new_pledge(session, today, code=None, name="张小三")  # published within 10 working days
    reviewed = new_pledge(session, today, code=None, name="李四")
    session.execute(
        update(Pledge)
        .where(Pledge.id == reviewed.id)  # type: ignore[arg-type]
        .values(state=PledgeState.EVIDENCE_SUBMITTED, stage_deadline=today + dt.timedelta(days=3))
    )
    session.commit()

    sign_in(client, staff.supervisor)
    page = client.get("/staff/dashboard").text
    assert f'href="/staff/pledges/{due.id}">{due.number}</a>' in page  # pledges due
    assert f'href="/staff/pledges/{reviewed.id}">{reviewed.number}</a>' in page  # review deadlines
    assert client.get(f"/staff/pledges/{due.id}").status_code == 200

    sign_in(client, staff.admin)
    page = client.get("/staff/dashboard").text
    assert client.get(f"/staff/pledges/{due.id}").status_code == 403
    assert due.number in page
    assert reviewed.number in page
    assert 'href="/staff/pledges/' not in page


def test_an_overdue_verification_names_the_competent_department_it_awaits(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    # 核实 is the 主管部门's move: the row names it beside the lead, as the red warning and 催办 go to it.
    day = dt.date(2026, 3, 2)
    case = _complaint(session, calendar, day, "D01")
    _run(session, calendar, day, case, (_handler(session, "D01"), "sign_for", ActionBody()))
    session.commit()
    session.refresh(case)
    assert case.state == "signed"
    assert case.stage_deadline is not None
    later = case.stage_deadline + dt.timedelta(days=7)
    [row] = dashboard.overdue_complaints(session=session, today=later, calendar=calendar)
    assert row.department == "市住房和城乡建设局（待市发展和改革委员会办理）"
    # A stage of the lead's own names the lead alone.
    other = _complaint(session, calendar, day, "D01")
    session.commit()
    rows = dashboard.overdue_complaints(session=session, today=later, calendar=calendar)
    assert {r.number: r.department for r in rows}[other.number] == "市住房和城乡建设局"

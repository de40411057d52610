"""The dashboard's 各部门超期与临期 counts an overdue stage for whoever the stage awaits (the party table
``visibility.awaited_party``, as the scorecard and the overdue list read it): a late return visit is intake's
own delay, shown on the row of 受理及督办人员, not the lead department's; a late 核实 is its 主管部门's. Each
count opens the list of exactly the cases it counts, and the daily digest counts alike."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import dashboard
from models.calendar import WorkCalendar
from models.clock import Clock
from models.complaint import Complaint
from models.complaints import ActionBody, ExplanationBody, ReplyBody
from models.digest import DUE_SOON_WORKING_DAYS, digest_rows
from tests.conftest import Staff
from tests.test_dashboard_record_deadlines import on
from tests.test_scorecard import _complaint, _handler, _run
from tests.web_support import sign_in

DAY = dt.date(2026, 3, 2)
LEAD, COMPETENT, STAFF = "市住房和城乡建设局", "市发展和改革委员会", "受理及督办人员"


def _replied(session: Session, calendar: WorkCalendar) -> Complaint:
    """A complaint led by D01, answered by it: the return visit (回访) waits on intake."""
    case = _complaint(session, calendar, DAY, "D01")
    d01, d00 = _handler(session, "D01"), _handler(session, "D00")
    _run(
        session,
        calendar,
        DAY,
        case,
        (d01, "sign_for", ActionBody()),
        (d00, "verify_untrue", ExplanationBody(explanation="经核实，款项已支付")),
        (d01, "reply", ReplyBody(reply_text="款项已于3月1日支付。")),
    )
    session.commit()
    session.refresh(case)
    assert case.state == "replied"
    assert case.stage_deadline is not None
    return case


def _signed(session: Session, calendar: WorkCalendar) -> Complaint:
    """A complaint led by D01 in 核实, which its 主管部门 D00 does."""
    case = _complaint(session, calendar, DAY, "D01")
    _run(session, calendar, DAY, case, (_handler(session, "D01"), "sign_for", ActionBody()))
    session.commit()
    session.refresh(case)
    assert case.state == "signed"
    return case


def _counts(session: Session, today: dt.date, calendar: WorkCalendar) -> dict[str, int]:
    rows = dashboard.due_by_department(
        session=session, today=today, calendar=calendar, working_days=DUE_SOON_WORKING_DAYS
    )
    return {r.name: r.overdue for r in rows if r.overdue}


def test_a_late_return_visit_is_intakes_delay_not_the_lead_departments(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    replied = _replied(session, calendar)
    assert replied.stage_deadline is not None
    later = replied.stage_deadline + dt.timedelta(days=10)
    assert _counts(session, later, calendar) == {STAFF: 1}
    [item] = dashboard.overdue_complaints(session=session, today=later, calendar=calendar)
    assert item.department == f"{LEAD}（待{STAFF}办理）"
    digest = {
        r["department_name"]: r["overdue"]
        for r in digest_rows(session=session, today=later, calendar=calendar)
    }
    assert {k: v for k, v in digest.items() if v} == {STAFF: 1}


def test_a_late_verification_counts_for_the_competent_department_and_the_doors_list_what_they_count(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar, clock: Clock
) -> None:
    replied, signed = _replied(session, calendar), _signed(session, calendar)
    own = _complaint(session, calendar, DAY, "D01")  # 待签收: the lead's own move
    session.commit()
    deadlines = [c.stage_deadline for c in (replied, signed, own)]
    assert all(deadlines)
    later = max(d for d in deadlines if d is not None) + dt.timedelta(days=10)
    assert _counts(session, later, calendar) == {LEAD: 1, COMPETENT: 1, STAFF: 1}
    # Every overdue stage is someone's, once: the rows add up to the overdue list.
    overdue = dashboard.overdue_complaints(session=session, today=later, calendar=calendar)
    assert sum(_counts(session, later, calendar).values()) == len(overdue) == 3

    with on(engine, clock, later) as viewer:
        sign_in(viewer, staff.supervisor)
        page = viewer.get("/staff/dashboard").text
        start = page.index('id="due-by-department"')
        table = page[start : page.index("</table>", start)]
        doors = dict(
            re.findall(
                r'<td data-label="责任单位">([^<]+)</td>'
                r'<td data-label="已超期"><a class="tag red" href="([^"]+)">1</a>',
                table,
            )
        )
        assert set(doors) == {LEAD, COMPETENT, STAFF}
        for name, case in ((LEAD, own), (COMPETENT, signed), (STAFF, replied)):
            listed = viewer.get(doors[name].replace("&amp;", "&"))
            assert listed.status_code == 200
            assert "（1 件）" in listed.text, name
            assert f'href="/staff/complaints/{case.id}">{case.number}</a>' in listed.text, name

"""A stage that waits on intake or the supervisors (回访 …) has no department to chase: 催办, 督办 and
提级办理 are withheld (``preconditions.department_awaited``), and the supervisor's case page says why, once
for the three, instead of leaving them to look for buttons that are not there."""

from __future__ import annotations

import datetime as dt
import html

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.calendar import WorkCalendar
from models.clock import Clock
from models.complaints import withheld_actions
from models.lifecycle import Role
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_an_overdue_stage_counts_for_whoever_it_awaits_on_the_dashboard import _replied, _signed
from tests.test_dashboard_record_deadlines import on
from tests.web_support import sign_in

SUPERVISOR = Actor(name="督办员", role=Role.SUPERVISOR)
WHY = (
    "本案处于“已答复（待回访）”，该环节由受理及督办人员办理，不待承办部门办理，"
    "没有可催办、督办或提级办理的部门"
)


def test_the_case_page_says_why_a_late_return_visit_cannot_be_chased(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar, clock: Clock
) -> None:
    case = _replied(session, calendar)
    assert case.stage_deadline is not None
    later = case.stage_deadline + dt.timedelta(days=10)
    withheld = dict(withheld_actions(session=session, complaint=case, actor=SUPERVISOR, today=later))
    assert withheld["催办、督办、提级办理"].startswith(f"{WHY}；请直接办理本环节")
    with on(engine, clock, later) as viewer:
        sign_in(viewer, staff.supervisor)
        page = html.unescape(viewer.get(f"/staff/complaints/{case.id}").text)
    assert f"催办、督办、提级办理：暂不可执行。{WHY}" in page
    assert 'value="supervise"' not in page


def test_a_stage_a_department_holds_is_chased_with_nothing_withheld(
    client: TestClient, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    case = _signed(session, calendar)
    assert (
        withheld_actions(session=session, complaint=case, actor=SUPERVISOR, today=dt.date(2026, 3, 20)) == []
    )
    sign_in(client, staff.supervisor)
    page = client.get(f"/staff/complaints/{case.id}").text
    assert 'value="supervise"' in page
    assert "暂不可执行" not in page

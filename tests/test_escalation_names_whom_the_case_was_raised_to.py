"""提级办理 tells each party its own part: the late department's 主管部门 that the case was raised to it and
whose it is (it handles nothing of it), the late department and the supervisors whom it was raised to, or,
when the late department has no 主管部门 on record, that the supervisors take the escalation themselves;
and the case page shows the target."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.accounts import department_by_code
from models.calendar import WorkCalendar
from models.complaint import Complaint
from notifications.render import render
from tests.conftest import Staff
from tests.test_supervision_reaches_the_department_whose_move_is_awaited import (
    COMPETENT,
    FIFTH_OVERDUE,
    LEAD,
    case_in,
    sent,
    supervise_on,
)
from tests.web_support import sign_in


def escalated(session: Session, cid: int, template: str) -> list[tuple[str, str]]:
    """(recipient, rendered text) of the case's ``template`` mails about its 提级办理."""
    return [
        (n.recipient_name, render(n.template, n.context).text)
        for n in sent(session, cid, template)
        if n.context.get("step", "escalate") == "escalate"
    ]


def test_the_superior_of_a_late_lead_is_told_the_case_was_raised_to_it_and_whose_it_is(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    cid = case_in(session, calendar, "rectifying")  # 整改: the lead's move, its 主管部门 above it
    supervise_on(session, calendar, FIFTH_OVERDUE)
    [(to, text)] = escalated(session, cid, "escalation_superior_notice")
    assert to == COMPETENT
    assert f"你单位主管的{LEAD}承办的政府违约失信投诉" in text
    assert "现已提级至你单位" in text
    assert f"请督促{LEAD}立即办理" in text
    assert "你单位承办的" not in text  # it handles nothing of the case
    # Not also sent the late department's own notice.
    assert [to for to, _ in escalated(session, cid, "supervision_notice")] == [LEAD]


def test_the_late_department_and_the_supervisors_learn_whom_the_case_was_raised_to(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    cid = case_in(session, calendar, "rectifying")
    supervise_on(session, calendar, FIFTH_OVERDUE)
    [(_, notice)] = escalated(session, cid, "supervision_notice")
    assert f"已提级至你单位主管部门{COMPETENT}" in notice
    [(_, alert)] = escalated(session, cid, "escalation_alert")
    assert f"已提级至{LEAD}的主管部门{COMPETENT}" in alert
    case = session.get(Complaint, cid)
    assert case is not None
    assert case.escalated_to_department_id == department_by_code(session=session, code="D00").id


def test_a_late_department_without_a_superior_is_told_the_supervisors_take_the_escalation(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    cid = case_in(session, calendar, "signed")  # 核实: the 主管部门's own move, nobody above it
    supervise_on(session, calendar, FIFTH_OVERDUE)
    [(to, notice)] = escalated(session, cid, "supervision_notice")
    assert to == COMPETENT
    assert "没有你单位主管部门的登记" in notice
    assert "由信用主管部门（督办人员）直接督办" in notice
    assert "请积极配合" not in notice  # the old sentence implied someone above it now held the case
    [(_, alert)] = escalated(session, cid, "escalation_alert")
    assert f"{COMPETENT}没有登记的主管部门" in alert
    assert "由督办人员直接督办" in alert
    assert sent(session, cid, "escalation_superior_notice") == []


def test_the_case_page_shows_whom_the_case_was_escalated_to(
    client: TestClient, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    cid = case_in(session, calendar, "rectifying")
    supervise_on(session, calendar, FIFTH_OVERDUE)
    sign_in(client, staff.supervisor)
    page = client.get(f"/staff/complaints/{cid}").text
    assert f'已提级办理<span id="escalated-to">（已提级至{COMPETENT}）</span>' in page

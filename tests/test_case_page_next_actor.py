"""The case page tells every viewer whom the case now waits on: the department by name and
what it must do (e.g. 待市发展和改革委员会核实属实或核实不实), not only that they themselves cannot act."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.complaint import Complaint
from models.complaints import who_acts_next
from tests.conftest import TODAY, Staff
from tests.test_complaints_api import act, register
from tests.web_support import sign_in


def test_the_case_page_says_which_department_acts_next_and_what_it_must_do(
    client: TestClient, staff: Staff, session: Session
) -> None:
    case = register(client, staff)
    act(client, staff, "intake", case["id"], "accept")
    act(client, staff, "intake", case["id"], "dispatch", lead_department_code="D01")
    sign_in(client, staff.intake)
    page = client.get(f"/staff/complaints/{case['id']}").text
    assert "下一步：待市住房和城乡建设局退单或签收" in page

    act(client, staff, "handler", case["id"], "sign_for")
    complaint = session.get(Complaint, case["id"])
    assert complaint is not None
    session.refresh(complaint)
    # Signed for: the lead department's 主管部门 (D00) verifies.
    waiting = who_acts_next(session=session, complaint=complaint, today=TODAY)
    [(who, labels)] = [w for w in waiting if "委员会" in w[0]]
    assert who == "市发展和改革委员会"
    assert "核实属实" in labels
    page = client.get(f"/staff/complaints/{case['id']}").text
    assert 'id="next-actor"' in page
    assert "待市发展和改革委员会核实属实" in page


def test_parties_offered_the_same_actions_are_named_once_together(
    client: TestClient, staff: Staff, session: Session
) -> None:
    case = register(client, staff)  # intake and the supervisors may both accept, reject or merge it
    complaint = session.get(Complaint, case["id"])
    assert complaint is not None
    [(who, labels)] = who_acts_next(session=session, complaint=complaint, today=TODAY)
    assert who == "受理人员或督办人员"
    assert labels[0] == "受理"
    sign_in(client, staff.admin)  # sees every case, acts on none
    page = client.get(f"/staff/complaints/{case['id']}").text
    assert "下一步：待受理人员或督办人员受理或不予受理" in page
    assert "待督办人员受理" not in page

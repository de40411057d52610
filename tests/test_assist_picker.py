"""Dispatching on the case page picks the 协办 departments from a list, not typed codes (issue 15)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.complaint import ComplaintAssignment
from models.org import Department
from tests.conftest import Staff
from tests.test_complaints_api import act, register
from tests.web_support import post_form, sign_in


def test_dispatch_page_picks_several_assisting_departments_from_the_list(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "accept")
    sign_in(client, staff.intake)
    page = client.get(f"/staff/complaints/{cid}").text
    picker = page[page.index('id="assist-picker"') :]
    picker = picker[: picker.index("</select>")]
    assert 'name="assisting_department_codes"' in page
    assert "multiple" in picker
    assert '<option value="D02"' in picker
    assert '<option value="D00"' in picker

    sent = post_form(
        client,
        f"/staff/complaints/{cid}/act/dispatch",
        {"lead_department_code": "D01", "assisting_department_codes": ["D02", "D00"]},
        page=f"/staff/complaints/{cid}",
    )
    assert sent.status_code == 303, sent.text
    session.expire_all()
    rows = session.exec(
        select(Department.code)
        .join(ComplaintAssignment, ComplaintAssignment.department_id == Department.id)  # type: ignore[arg-type]
        .where(ComplaintAssignment.complaint_id == cid, ComplaintAssignment.lead == False)  # noqa: E712
    ).all()
    assert sorted(rows) == ["D00", "D02"]

"""The confirmation after 派单 names the departments the case went to (主办 and 协办), and after 催办 or
督办 whom the step notified, read off what was recorded (the event and the notices it queued), not off the
form that was sent."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Staff
from tests.test_complaints_api import act, dispatched_and_signed, register
from tests.web_support import post_form, sign_in


def _flash(page: str) -> str:
    assert 'id="done"' in page, page
    return page.split('id="done"', 1)[1].split("</div>", 1)[0]


def test_the_dispatch_confirmation_names_the_lead_and_assisting_departments(
    client: TestClient, staff: Staff
) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "accept")
    sign_in(client, staff.intake)
    page = f"/staff/complaints/{cid}"
    done = post_form(
        client,
        f"{page}/act/dispatch",
        {"lead_department_code": "D01", "assisting_department_codes": "D02"},
        page=page,
    )
    assert done.status_code == 303, done.text
    flash = _flash(client.get(done.headers["location"]).text)
    assert "派单" in flash
    assert "主办：市住房和城乡建设局" in flash
    assert "协办：市财政局" in flash


def test_the_supervision_confirmation_names_whom_it_notified(client: TestClient, staff: Staff) -> None:
    cid = dispatched_and_signed(client, staff)
    sign_in(client, staff.supervisor)
    page = f"/staff/complaints/{cid}"
    for action, label in (("remind", "催办"), ("supervise", "督办")):
        done = post_form(client, f"{page}/act/{action}", {}, page=page)
        assert done.status_code == 303, done.text
        flash = _flash(client.get(done.headers["location"]).text)
        # 核实 is the 主管部门's move: it is the one chased (tests/test_complaints_api.py).
        assert f"{label}（已通知：市发展和改革委员会）" in flash, flash

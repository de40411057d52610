"""A department without an e-mail address gets none of its notices (dispatch, deadlines, 催办): the outbox
marks them undeliverable, and the supervisors' dashboard names the department, so a chase that reaches
nobody is followed up by phone and the address is added."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.org import Department
from tests.conftest import Staff
from tests.web_support import sign_in


def test_the_dashboard_names_an_active_department_without_an_email_address(
    client: TestClient, session: Session, staff: Staff
) -> None:
    sign_in(client, staff.supervisor)
    dept = session.exec(select(Department).where(Department.code == "D01")).one()

    def named() -> str:
        page = client.get("/staff/dashboard").text
        start = page.find('id="departments-without-email"')
        return page[start : page.find("</section>", start)] if start >= 0 else ""

    assert dept.name not in named()
    dept.email = None
    session.add(dept)
    session.commit()
    assert dept.name in named()
    assert "请系统管理员在部门管理中补充" in named()
    # A department retired in a reorganisation is no longer sent anything: it is not named.
    dept.active = False
    session.add(dept)
    session.commit()
    assert dept.name not in named()

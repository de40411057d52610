"""What the administration accepts: a department's 主管部门 can be cleared from the page and the API (a file
without the column leaves it alone), never names the department itself or closes a loop; e-mail addresses
of departments and accounts must be addresses; and the outbox tells an admin, who cannot open a pledge,
who re-issues a lost access code instead of linking a page that would refuse them."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.accounts import import_departments, read_department_file
from models.org import Department, User
from models.outbox import Notification, NotificationStatus
from tests.conftest import Staff
from tests.test_pledges import registered
from tests.web_support import post_form, sign_in

API = "/api/v1/admin"
DEPARTMENTS = "/staff/admin/departments"
USERS = "/staff/admin/users"
NOTIFICATIONS = "/staff/admin/notifications"
D01 = {"code": "D01", "name": "市住房和城乡建设局", "level": "city", "email": "zjj@example.gov.cn"}
FIELD_ERROR = re.compile(r'<span class="field-error" role="alert">([^<]*)</span>')


def _department(session: Session, code: str) -> Department | None:
    session.expire_all()
    return session.exec(select(Department).where(Department.code == code)).first()


def _competent_code(session: Session, code: str) -> str | None:
    dept = _department(session, code)
    assert dept is not None
    competent = session.get(Department, dept.competent_id) if dept.competent_id else None
    return competent.code if competent else None


def test_choosing_none_as_the_competent_department_on_the_page_clears_it(
    client: TestClient, staff: Staff, session: Session
) -> None:
    assert _competent_code(session, "D01") == "D00"
    sign_in(client, staff.admin)
    saved = post_form(client, DEPARTMENTS, {**D01, "competent_code": ""})
    assert saved.status_code == 200, saved.text
    assert "已更新部门 D01" in saved.text
    assert _competent_code(session, "D01") is None


def test_a_competent_department_left_out_by_a_file_or_the_api_is_kept_and_given_as_null_is_cleared(
    client: TestClient, staff: Staff, session: Session, tmp_path: Path
) -> None:
    csv_file = tmp_path / "departments.csv"  # renames D01; says nothing of its 主管部门
    csv_file.write_text("code,name,level\nD01,市住房和城乡建设局（更名）,city\n", encoding="utf-8")
    import_departments(session=session, items=read_department_file(csv_file))
    session.commit()
    dept = _department(session, "D01")
    assert dept is not None
    assert dept.name == "市住房和城乡建设局（更名）"
    assert _competent_code(session, "D01") == "D00"
    admin = staff.auth("admin")
    kept = client.post(f"{API}/departments", json=[D01], headers=admin)
    assert kept.status_code == 200, kept.text
    assert _competent_code(session, "D01") == "D00"
    cleared = client.post(f"{API}/departments", json=[{**D01, "competent_code": None}], headers=admin)
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()[0]["competent_id"] is None
    assert _competent_code(session, "D01") is None


def test_a_department_cannot_be_its_own_competent_department(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    refused = post_form(client, DEPARTMENTS, {**D01, "competent_code": "D01"})
    assert refused.status_code == 422
    assert "部门 D01 不能以自己为主管部门" in "".join(FIELD_ERROR.findall(refused.text))
    assert 'value="市住房和城乡建设局"' in refused.text  # the form keeps what was typed
    assert _competent_code(session, "D01") == "D00"
    by_api = client.post(
        f"{API}/departments", json=[{**D01, "competent_code": "D01"}], headers=staff.auth("admin")
    )
    assert by_api.status_code == 422
    assert "不能以自己为主管部门" in by_api.json()["message"]
    assert _competent_code(session, "D01") == "D00"


def test_departments_that_would_be_each_others_competent_department_are_refused(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)  # D01's 主管部门 is D00: D00 under D01 would close the loop
    refused = post_form(
        client,
        DEPARTMENTS,
        {"code": "D00", "name": "市发展和改革委员会", "level": "city", "competent_code": "D01"},
    )
    assert refused.status_code == 422
    assert "D00 → D01 → D00" in "".join(FIELD_ERROR.findall(refused.text))
    assert _competent_code(session, "D00") is None
    # A longer loop in one API batch, between new departments: nothing of it is written.
    loop = [
        {"code": "Q1", "name": "甲局", "level": "city", "competent_code": "Q2"},
        {"code": "Q2", "name": "乙局", "level": "city", "competent_code": "Q3"},
        {"code": "Q3", "name": "丙局", "level": "city", "competent_code": "Q1"},
    ]
    answer = client.post(f"{API}/departments", json=loop, headers=staff.auth("admin"))
    assert answer.status_code == 422
    assert "主管部门形成循环" in answer.json()["message"]
    assert _department(session, "Q1") is None
    # A chain that does not come back is fine.
    chain = [{**loop[0]}, {**loop[1]}, {**loop[2], "competent_code": None}]
    assert client.post(f"{API}/departments", json=chain, headers=staff.auth("admin")).status_code == 200


def test_a_department_email_must_be_an_address_and_the_form_keeps_what_was_typed(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    for typed in ("zjj at example", "not-an-email", "zjj@example"):
        refused = post_form(
            client, DEPARTMENTS, {"code": "D09", "name": "新部门", "level": "city", "email": typed}
        )
        assert refused.status_code == 422, typed
        assert f"“{typed}”不是有效的电子邮箱地址" in FIELD_ERROR.findall(refused.text)[0]
        assert f'value="{typed}"' in refused.text
        assert _department(session, "D09") is None
    by_api = client.post(
        f"{API}/departments", json=[{**D01, "email": "zjj at example"}], headers=staff.auth("admin")
    )
    assert by_api.status_code == 422
    assert "不是有效的电子邮箱地址" in by_api.text
    saved = post_form(
        client, DEPARTMENTS, {"code": "D09", "name": "新部门", "level": "city", "email": "xbm@example.gov.cn"}
    )
    assert saved.status_code == 200
    dept = _department(session, "D09")
    assert dept is not None
    assert dept.email == "xbm@example.gov.cn"


def test_an_account_email_must_be_an_address_on_the_page_and_the_api(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    refused = post_form(client, USERS, {"name": "新人", "role": "intake", "email": "not-an-email"})
    assert refused.status_code == 422
    assert "“not-an-email”不是有效的电子邮箱地址" in FIELD_ERROR.findall(refused.text)[0]
    assert 'value="not-an-email"' in refused.text
    assert 'value="新人"' in refused.text
    answer = client.post(
        f"{API}/users", json={"name": "甲", "role": "intake", "email": "nope"}, headers=staff.auth("admin")
    )
    assert answer.status_code == 422
    assert "不是有效的电子邮箱地址" in answer.text
    assert session.exec(select(User).where(User.name.in_(["新人", "甲"]))).first() is None  # type: ignore[attr-defined]
    created = client.post(
        f"{API}/users",
        json={"name": "甲", "role": "intake", "email": "jia@example.gov.cn"},
        headers=staff.auth("admin"),
    )
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "jia@example.gov.cn"


def _dead_registration_without_its_code(session: Session, pledge: dict[str, object]) -> Notification:
    row = Notification(
        template="pledge_registered",
        recipient_kind="pledgor",
        recipient_name="示范建设有限公司",
        recipient_email="a@example.com",
        status=NotificationStatus.DEAD,
        attempts=1,
        last_error="550 mailbox unavailable",
        idempotency_key="lost-code-dead",
        case_kind="pledge",
        case_id=int(str(pledge["id"])),
        case_number=str(pledge["number"]),
        context={"pledge_number": pledge["number"]},
    )
    session.add(row)
    session.commit()
    return row


def test_a_lost_access_code_names_who_reissues_it_for_the_admin_and_links_the_pledge_for_a_supervisor(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pledge = registered(client, staff)
    row = _dead_registration_without_its_code(session, pledge)
    sign_in(client, staff.admin)
    page = client.get(NOTIFICATIONS).text
    note = re.search(r'<span class="code-removed">(.*?)</span>', page, re.S)
    assert note is not None
    assert "/staff/pledges/" not in page  # the admin would be refused (403)
    assert (
        f"请联系受理人员、责任单位经办人、督办人员在承诺 {pledge['number']} 的页面重新发放办理码"
        in note.group(1)
    )
    refusal = client.post(f"{API}/notifications/{row.id}/retry", headers=staff.auth("admin"))
    assert refusal.status_code == 409
    assert (
        f"请联系受理人员、责任单位经办人、督办人员在承诺 {pledge['number']} 的页面“重新发放办理码”"
        in (refusal.json()["message"])
    )

    client.cookies.clear()
    sign_in(client, staff.supervisor)  # may open the pledge and re-issue there
    page = client.get(NOTIFICATIONS).text
    assert f'<a href="/staff/pledges/{pledge["id"]}">' in page
    assert client.get(f"/staff/pledges/{pledge['id']}").status_code == 200
    assert "重新投递" not in page


def test_a_department_code_that_could_not_name_it_in_a_path_is_refused(
    client: TestClient, staff: Staff, session: Session
) -> None:
    # Its code names a department in page and API paths (/departments/GA/01/retire would be another path).
    for code in ("GA/01", "GA 01", "GA#1", "-GA"):
        answer = client.post(
            f"{API}/departments", json=[{**D01, "code": code, "name": "公安局"}], headers=staff.auth("admin")
        )
        assert answer.status_code == 422, code
        assert "只能由字母、数字和 - _ . 组成" in answer.text
        assert _department(session, code) is None
    ok = client.post(f"{API}/departments", json=[{**D01, "code": "GA-01.x_2"}], headers=staff.auth("admin"))
    assert ok.status_code == 200, ok.text

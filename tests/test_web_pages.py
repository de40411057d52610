"""Pages: every template renders under StrictUndefined; sign-in, CSRF, roles, validation and actions."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.accounts import authenticate, authenticate_password, set_password
from models.calendar import CalendarYear
from models.complaint import Complaint
from models.errors import ValidationFailed
from models.org import User
from models.outbox import Notification, NotificationStatus
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_online_complaint_submission import FORM as ONLINE_FORM
from tests.test_pledges import CSV
from tests.test_register import CODE, access_code, publish
from tests.web_support import csrf_of, post_form, sign_in
from web.core import CSRF_FIELD, SECURITY_HEADERS, SESSION_COOKIE, env

NOTICE_2027 = """{"year": 2027, "notice_title": "国务院办公厅关于2027年部分节假日安排的通知",
 "source": "测试", "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}],
 "workdays": []}"""


def _register_complaint(client: TestClient, **overrides: str) -> tuple[str, str, int]:
    data = {
        "channel": "window",
        "category": "sme_arrears",
        "complainant_name": "示范建工集团有限公司",
        "complainant_phone": "13800138000",
        "respondent_department_code": "D01",
        "summary": "拖欠工程款",
        "description": "竣工验收后尾款未付。",
        **overrides,
    }
    response = post_form(client, "/staff/complaints/new", data)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"  # it shows the tracking password
    number = re.search(r'id="number">([^<]+)<', response.text)
    password = re.search(r'id="password">([^<]+)<', response.text)
    case = re.search(r'href="/staff/complaints/(\d+)"', response.text)
    assert number
    assert password
    assert case
    return number.group(1), password.group(1), int(case.group(1))


def _act(client: TestClient, case_id: int, action: str, **fields: str) -> None:
    response = post_form(
        client, f"/staff/complaints/{case_id}/act/{action}", fields, page=f"/staff/complaints/{case_id}"
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/staff/complaints/{case_id}?done={action}"


def test_every_template_is_rendered_by_a_page(
    client: TestClient, staff: Staff, engine: Engine, session: Session
) -> None:
    """Visit every page; together they must have rendered every template in web/templates."""
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    rendered: set[str] = set()
    original = env.get_template

    def spy(name: str, *args: object, **kwargs: object) -> object:
        rendered.add(name)
        return original(name, *args, **kwargs)

    env.get_template = spy  # type: ignore[method-assign]
    try:
        sign_in(client, staff.intake)
        number, password, case_id = _register_complaint(client)
        for path in ("/staff", "/staff/complaints/new", f"/staff/complaints/{case_id}", "/staff/pledges/new"):
            assert client.get(path).status_code == 200, path
        uploaded = client.post(
            "/staff/pledges/import",
            data={CSRF_FIELD: csrf_of(client, "/staff/pledges/import")},
            files={"file": ("承诺.csv", CSV.encode())},
            follow_redirects=False,
        )
        assert uploaded.status_code == 303, uploaded.text
        assert client.get(uploaded.headers["location"]).status_code == 200
        for path in (
            "/staff/pledges",
            f"/staff/pledges/{breach.pledge_id}",
            f"/staff/pledges/{breach.pledge_id}/notice",
        ):
            assert client.get(path).status_code == 200, path
        client.cookies.clear()
        sign_in(client, staff.supervisor)
        for path in ("/staff/breaches", f"/staff/breaches/{breach.id}"):
            assert client.get(path).status_code == 200, path
        client.cookies.clear()
        sign_in(client, staff.admin)
        for path in (
            "/staff/dashboard",
            "/staff/scorecard",
            "/staff/admin/departments",
            "/staff/admin/users",
            "/staff/admin/calendar?year=2026",
            "/staff/admin/notifications",
            "/staff/admin/mail",
            "/staff/admin/platform",
            "/staff/admin/hotline",
            "/staff/complaints?state=registered",
        ):
            response = client.get(path)
            assert response.status_code == 200, path
            for header, value in SECURITY_HEADERS.items():
                assert response.headers[header] == value, (path, header)
            assert "<script" not in response.text  # the policy forbids inline script; the pages have none
        assert (
            post_form(client, "/staff/admin/calendar", {"notice": NOTICE_2027, "confirm": "0"}).status_code
            == 200
        )
        client.cookies.clear()
        [record] = client.get("/register").text.split('href="/register/')[1:2]
        record_number = record.split('"')[0]
        for path in (
            "/register",
            f"/register/{record_number}",
            f"/register/{record_number}/objection",
            f"/register/{record_number}/repair",
            "/pledges/evidence",
            "/pledges/status",
            "/track",
        ):
            assert client.get(path).status_code == 200, path
        assert post_form(client, "/track", {"number": number, "password": password}).status_code == 200
        assert client.get("/complaints/new").status_code == 200
        assert post_form(client, "/complaints/new", ONLINE_FORM).status_code == 201
        assert client.get("/staff/complaints/999999", follow_redirects=False).status_code == 303  # to sign-in
        sign_in(client, staff.handler2)
        assert client.get(f"/staff/complaints/{case_id}").status_code == 404  # another department's case
        assert client.post("/logout", data={}).status_code == 403  # no CSRF field
    finally:
        env.get_template = original  # type: ignore[method-assign]
    templates = {name for name in env.list_templates() if not name.startswith("_")}
    assert templates - rendered == set()


def test_sign_in_with_password_cookie_flags_and_expiry(
    client: TestClient, staff: Staff, session: Session
) -> None:
    user = session.exec(select(User).where(User.name == "督办员老李")).one()
    with pytest.raises(ValidationFailed, match="至少"):
        set_password(session=session, user=user, password="short")
    set_password(session=session, user=user, password="督办-correct-horse")
    session.commit()
    assert authenticate_password(session=session, name="督办员老李", password="wrong-password!") is None
    assert authenticate_password(session=session, name="无此人", password="督办-correct-horse") is None

    bad = post_form(client, "/login", {"name": "督办员老李", "password": "wrong-password!"})
    assert bad.status_code == 401
    assert "登录失败" in bad.text
    ok = post_form(
        client, "/login", {"name": "督办员老李", "password": "督办-correct-horse", "next": "//evil.example"}
    )
    assert ok.status_code == 303
    assert ok.headers["location"] == "/staff/dashboard"  # an off-site "next" is ignored
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert client.get("/staff/dashboard").status_code == 200

    # A tampered cookie is refused.
    value = client.cookies.get(SESSION_COOKIE)
    assert value is not None
    client.cookies.set(SESSION_COOKIE, value[:-1] + ("0" if value[-1] != "0" else "1"))
    assert client.get("/staff/dashboard", follow_redirects=False).status_code == 303

    # Changing the password signs the user out of existing sessions.
    client.cookies.set(SESSION_COOKIE, value)
    assert client.get("/staff/dashboard").status_code == 200
    set_password(session=session, user=user, password="another-long-password")
    session.commit()
    assert client.get("/staff/dashboard", follow_redirects=False).status_code == 303


def test_session_cookie_expires(client: TestClient, staff: Staff, session: Session) -> None:
    from web.core import session_value, user_from_cookie

    user = authenticate(session=session, token=staff.intake)
    assert user is not None
    issued = session_value(user, dt.datetime.now(dt.UTC) - dt.timedelta(hours=9))
    assert user_from_cookie(issued, session, dt.datetime.now(dt.UTC)) is None
    fresh = session_value(user, dt.datetime.now(dt.UTC))
    assert user_from_cookie(fresh, session, dt.datetime.now(dt.UTC)) == user


def test_csrf_is_required_on_every_form(client: TestClient, staff: Staff) -> None:
    csrf_of(client, "/login")
    assert client.post("/login", data={"token": staff.intake}, follow_redirects=False).status_code == 403
    wrong = client.post("/login", data={"token": staff.intake, CSRF_FIELD: "x" * 43}, follow_redirects=False)
    assert wrong.status_code == 403
    sign_in(client, staff.intake)
    refused = client.post("/staff/complaints/new", data={"complainant_name": "x"}, follow_redirects=False)
    assert refused.status_code == 403
    assert "表单校验失败" in refused.text


def test_complaint_form_shows_chinese_field_messages(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.intake)
    response = post_form(
        client,
        "/staff/complaints/new",
        {
            "channel": "window",
            "category": "",
            "complainant_name": "",
            "summary": "x",
            "complainant_email": "bad",
        },
    )
    assert response.status_code == 422
    assert "必填项未填写" in response.text
    assert "内容过短" in response.text
    assert 'class="invalid"' in response.text
    bad_code = post_form(
        client,
        "/staff/complaints/new",
        {
            "channel": "window",
            "category": "sme_arrears",
            "complainant_name": "某公司",
            "complainant_phone": "1380000",
            "summary": "拖欠工程款",
            "complainant_credit_code": "91440300708461136X",
        },
    )
    assert bad_code.status_code == 422
    assert "统一社会信用代码" in bad_code.text
    assert session.exec(select(Complaint)).first() is None


def test_a_text_over_its_limit_says_the_limit_and_keeps_what_was_typed(
    client: TestClient, staff: Staff, session: Session
) -> None:
    # A clerk who typed 19 characters into the 18-character credit code (a value cleaned before its length
    # is checked, which pydantic words as too many "items").
    sign_in(client, staff.intake)
    data = {
        "channel": "window", "category": "sme_arrears", "complainant_name": "某公司",
        "complainant_phone": "13800138000", "summary": "拖欠工程款", "description": "尾款未付。",
        "complainant_credit_code": "91440300708461136TX",
    }  # fmt: skip
    response = post_form(client, "/staff/complaints/new", data)
    assert response.status_code == 422
    assert "内容过长：最多 18 个字，现为 19 个字" in response.text
    assert "项目过多" not in response.text
    assert "拖欠工程款" in response.text
    assert "13800138000" in response.text
    api = client.post(
        "/api/v1/complaints", json={**data, "complainant_phone": "1" * 40}, headers=staff.auth("intake")
    )
    assert api.status_code == 422
    assert "内容过长：最多 32 个字，现为 40 个字" in api.json()["message"]
    assert session.exec(select(Complaint)).first() is None


def test_roles_and_actions_follow_the_lifecycle(client: TestClient, staff: Staff, session: Session) -> None:
    sign_in(client, staff.handler)
    assert client.get("/staff/complaints/new").status_code == 403  # handlers do not register complaints
    assert client.get("/staff/dashboard").status_code == 403
    client.cookies.clear()
    sign_in(client, staff.intake)
    _, _, case_id = _register_complaint(client)
    page = client.get(f"/staff/complaints/{case_id}").text
    assert "/act/accept" in page
    assert "/act/reject" in page
    assert "/act/sign_for" not in page
    # A handler's action posted by intake is refused by the lifecycle, shown on the case page.
    refused = post_form(
        client, f"/staff/complaints/{case_id}/act/sign_for", {}, page=f"/staff/complaints/{case_id}"
    )
    assert refused.status_code in (403, 409)
    _act(client, case_id, "accept")
    invalid = post_form(
        client,
        f"/staff/complaints/{case_id}/act/dispatch",
        {"lead_department_code": "NOPE"},
        page=f"/staff/complaints/{case_id}",
    )
    assert invalid.status_code == 422
    _act(client, case_id, "dispatch", lead_department_code="D01")
    assert session.get(Complaint, case_id).state == "dispatched"  # type: ignore[union-attr]
    client.cookies.clear()
    sign_in(client, staff.handler)
    assert f"/staff/complaints/{case_id}" in client.get("/staff").text  # in the handler's queue
    page = client.get(f"/staff/complaints/{case_id}").text
    assert "/act/sign_for" in page
    assert "/act/verify_true" not in page
    case = session.get(Complaint, case_id)
    assert case is not None
    assert case.stage_deadline is not None
    assert "签收（2 个工作日）" in page  # the stage, its span in working days, and its calendar date
    assert case.stage_deadline.isoformat() in page
    assert "2 个工作日" in page.split("剩余工作日")[1]
    _act(client, case_id, "sign_for")
    session.expire_all()
    assert session.get(Complaint, case_id).state == "signed"  # type: ignore[union-attr]


def test_a_returned_order_leads_the_handler_back_to_the_workbench_not_to_a_not_found_page(
    client: TestClient, staff: Staff
) -> None:
    sign_in(client, staff.intake)
    number, _, case_id = _register_complaint(client)
    _act(client, case_id, "accept")
    _act(client, case_id, "dispatch", lead_department_code="D01")
    client.cookies.clear()
    sign_in(client, staff.handler)
    returned = post_form(
        client,
        f"/staff/complaints/{case_id}/act/return_order",
        {"reason": "不属于本单位职责"},
        page=f"/staff/complaints/{case_id}",
    )
    assert returned.status_code == 303, returned.text
    assert returned.headers["location"] == f"/staff?done=return_order&number={number}"
    assert client.get(f"/staff/complaints/{case_id}").status_code == 404  # the order left the department
    workbench = client.get(returned.headers["location"])
    assert workbench.status_code == 200
    assert f"已完成操作：退单（{number}），该件已不在本部门办理" in workbench.text


def test_public_search_pagination_objection_and_tracking(
    client: TestClient, staff: Staff, engine: Engine, session: Session
) -> None:
    publish(engine, session, *[(f"示范建设{n}有限公司", None) for n in range(23)])
    first = client.get("/register")
    assert first.status_code == 200
    assert first.text.count('href="/register/') == 20
    nxt = re.search(r'href="(/register\?q=&amp;after=[^"]+)"', first.text)
    assert nxt
    second = client.get(nxt.group(1).replace("&amp;", "&"))
    assert second.text.count('href="/register/GS') + second.text.count('href="/register/') >= 3
    by_name = client.get("/register", params={"q": "示范建设1"})
    assert by_name.text.count("示范建设1") >= 1
    assert "没有找到" in client.get("/register", params={"q": "不存在的公司"}).text
    bad_code = client.get("/register", params={"q": "91440300708461136X"})
    assert bad_code.status_code == 200
    assert 'class="alert error"' in bad_code.text
    wrong = post_form(client, "/track", {"number": "TS-2026-000001", "password": "WRONGPWD"})
    assert wrong.status_code == 404
    assert "不正确" in wrong.text


def test_admin_calendar_preview_then_save_and_notification_retry(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    assert "尚未载入" in client.get("/staff/admin/calendar?year=2027").text
    broken = post_form(client, "/staff/admin/calendar", {"notice": "{not json", "confirm": "0"})
    assert broken.status_code == 422
    assert "不是有效的 JSON" in broken.text
    preview = post_form(client, "/staff/admin/calendar", {"notice": NOTICE_2027, "confirm": "0"})
    assert preview.status_code == 200
    assert 'id="calendar-diff"' in preview.text
    assert "2027-01-01" in preview.text
    assert "确认保存" in preview.text
    assert session.exec(select(CalendarYear).where(CalendarYear.year == 2027)).first() is None  # preview only
    previewed = re.search(r'name="previewed" value="([^"]*)"', preview.text)
    assert previewed  # what the preview was computed from, checked on confirmation
    saved = post_form(
        client,
        "/staff/admin/calendar",
        {"notice": NOTICE_2027, "confirm": "1", "previewed": previewed.group(1)},
        page="/staff/admin/calendar",
    )
    assert saved.status_code == 303
    assert session.exec(select(CalendarYear).where(CalendarYear.year == 2027)).first() is not None
    page = client.get(saved.headers["location"]).text
    assert "已保存放假通知" in page
    assert 'class="holiday"' in page

    dead = Notification(
        template="complaint_received",
        recipient_kind="complainant",
        recipient_name="示范公司",
        recipient_email="a@example.com",
        status=NotificationStatus.DEAD,
        attempts=5,
        last_error="550 mailbox unavailable",
        idempotency_key="web-test-dead",
    )
    session.add(dead)
    session.commit()
    listing = client.get("/staff/admin/notifications").text
    assert "550 mailbox unavailable" in listing
    retried = post_form(
        client, f"/staff/admin/notifications/{dead.id}/retry", {}, page="/staff/admin/notifications"
    )
    assert retried.status_code == 303
    session.expire_all()
    assert session.get(Notification, dead.id).status == NotificationStatus.PENDING  # type: ignore[union-attr]

    client.cookies.clear()
    sign_in(client, staff.supervisor)  # supervisors see the outbox but may not retry or load a calendar
    assert "重新投递" not in client.get("/staff/admin/notifications").text
    assert post_form(client, "/staff/admin/calendar", {"notice": NOTICE_2027}).status_code == 403


def test_a_dead_notice_that_lost_its_access_code_links_to_the_pledge_unless_its_other_channel_was_sent(
    client: TestClient, staff: Staff, session: Session
) -> None:
    def dead_row(
        template: str, key: str, status: NotificationStatus = NotificationStatus.DEAD, **fields: Any
    ) -> Notification:
        row = Notification(
            template=template,
            recipient_kind="pledgor",
            recipient_name="示范公司",
            recipient_email="a@example.com",
            status=status,
            attempts=1,
            last_error="550 mailbox unavailable",
            idempotency_key=key,
            **fields,
        )
        session.add(row)
        return row

    # What _leave_queue keeps of a registration notice that died: no access code, the rest as it was.
    lost = dead_row(
        "pledge_registered",
        "web-test-dead-code",
        case_kind="pledge",
        case_id=7,
        case_number="CN-2026-000007",
        context={"pledge_number": "CN-2026-000007"},
    )
    ordinary = dead_row("complaint_received", "web-test-dead-plain")

    # A notice that went by both channels: one row died, the other was sent, so the pledgor has the code
    # and a re-issue would void it. Pledge 8's SMS row died and its e-mail was sent; pledge 9 the reverse.
    def registration(key: str, case_id: int, channel: str, status: NotificationStatus) -> Notification:
        return dead_row(
            "pledge_registered", key, status, channel=channel, case_kind="pledge", case_id=case_id, context={}
        )

    sent, dead = NotificationStatus.SENT, NotificationStatus.DEAD
    by_email = registration("web-test-both-8:sms", 8, "sms", dead)
    registration("web-test-both-8", 8, "email", sent)
    by_sms = registration("web-test-both-9", 9, "email", dead)
    registration("web-test-both-9:sms", 9, "sms", sent)
    # Pledge 7's sent SMS of another notice (a re-issued code's) is not the dead registration's other row.
    dead_row(
        "pledge_access_code", "web-test-dead-code:sms", sent, channel="sms", case_kind="pledge", case_id=7
    )
    session.commit()
    sign_in(client, staff.admin)
    listing = client.get("/staff/admin/notifications").text
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r'<tr><td data-label="ID">(\d+)</td>.*?</tr>', listing, re.S)
    }
    assert "重新投递" not in rows[str(lost.id)]
    assert f"/staff/admin/notifications/{lost.id}/retry" not in listing
    # The admin cannot open the pledge page: the row names the pledge and who re-issues the code.
    assert "/staff/pledges/7" not in rows[str(lost.id)]
    assert "请联系受理人员" in rows[str(lost.id)]
    assert "重新发放办理码" in rows[str(lost.id)]
    assert "重新投递" in rows[str(ordinary.id)]
    assert f'action="/staff/admin/notifications/{ordinary.id}/retry"' in rows[str(ordinary.id)]
    for row, channel in ((by_email, "邮件"), (by_sms, "短信")):
        assert f"已通过{channel}送达，承诺人已收到办理码，无需重新发放" in rows[str(row.id)]
        assert "重新发放办理码" not in rows[str(row.id)]
        assert "/staff/pledges/" not in rows[str(row.id)]
        assert "重新投递" not in rows[str(row.id)]
    assert "已收到办理码" not in rows[str(lost.id)]


def test_objection_form_checks_the_access_code_then_marks_the_record(
    client: TestClient, staff: Staff, engine: Engine, session: Session
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    path = f"/register/{breach.number}/objection"
    form = client.get(path).text
    assert 'name="access_code"' in form
    assert "信用承诺登记告知" in form  # where the pledgor finds its code
    empty = post_form(client, path, {"access_code": "", "reason": ""})
    assert empty.status_code == 422
    assert "请填写办理码" in empty.text
    wrong = post_form(client, path, {"access_code": "AAAA-BBBB-CCCC", "reason": "已补交"})
    assert wrong.status_code == 403
    assert "办理码不正确" in wrong.text
    assert "AAAA-BBBB-CCCC" not in wrong.text  # a code is never echoed back into the page
    ok = post_form(
        client, path, {"access_code": access_code(session, breach), "reason": "材料已于期限内补交"}
    )
    assert ok.status_code == 303
    page = client.get(ok.headers["location"]).text
    assert "异议已提交" in page
    assert "异议处理中" in page


def test_repair_form_needs_the_access_code(
    client: TestClient, staff: Staff, engine: Engine, session: Session, clock: Any
) -> None:
    from api.main import create_app

    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    path = f"/register/{breach.number}/repair"
    assert f'href="{path}"' in client.get(f"/register/{breach.number}").text
    later = type(clock)(tz=clock.tz, pinned_today=dt.date(2026, 6, 1))  # the 一般 minimum period is over
    with TestClient(create_app(engine=engine, clock=later, check_schema=False)) as c:
        form = c.get(path).text
        assert 'name="access_code"' in form
        fields = {"statement": "已补交合格书", "repair_pledge": "今后按期履约"}
        empty = post_form(c, path, {"access_code": "", **fields})
        assert empty.status_code == 422
        assert "请填写办理码" in empty.text
        wrong = post_form(c, path, {"access_code": "AAAA-BBBB-CCCC", **fields})
        assert wrong.status_code == 403
        assert "办理码不正确" in wrong.text
        assert "已补交合格书" in wrong.text  # what was typed is kept, the code is not
        ok = post_form(c, path, {"access_code": access_code(session, breach), **fields})
        assert ok.status_code == 303, ok.text
        page = c.get(ok.headers["location"]).text
        assert "信用修复申请已提交" in page
        assert "信用修复申请中" in page


def test_the_repair_form_is_not_offered_while_an_objection_is_pending(
    client: TestClient, staff: Staff, engine: Engine, session: Session, clock: Any
) -> None:
    """It said "现在可以申请信用修复" and then refused in staff words ("当前可执行：无") once filled in."""
    from api.main import create_app

    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    code = access_code(session, breach)
    objection = {"access_code": code, "reason": "合格书已按期提交"}
    assert post_form(client, f"/register/{breach.number}/objection", objection).status_code == 303
    path = f"/register/{breach.number}/repair"
    later = type(clock)(tz=clock.tz, pinned_today=dt.date(2026, 6, 1))  # the 一般 minimum period is over
    with TestClient(create_app(engine=engine, clock=later, check_schema=False)) as c:
        form = c.get(path).text
        assert "该记录正在异议处理中，异议答复后方可申请信用修复" in form
        assert 'name="access_code"' not in form
        assert "现在可以申请信用修复" not in form
        fields = {"access_code": code, "statement": "已补交合格书", "repair_pledge": "今后按期履约"}
        refused = post_form(c, path, fields, page="/login")  # a direct POST: the page has no form
        assert refused.status_code == 422
        assert "异议答复后方可申请信用修复" in refused.text
        assert "当前可执行" not in refused.text


def test_pledgor_uploads_evidence_on_the_public_page(
    client: TestClient, staff: Staff, session: Session
) -> None:
    from tests.test_pledges import body

    created = client.post(
        "/api/v1/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake")
    ).json()
    assert 'href="/pledges/evidence"' in client.get("/register").text
    token = csrf_of(client, "/pledges/evidence")

    def send(code: str) -> Any:
        return client.post(
            "/pledges/evidence",
            data={CSRF_FIELD: token, "number": created["number"], "access_code": code},
            files={"file": ("合格书.pdf", b"%PDF-1.7 evidence")},
        )

    wrong = send("AAAA-BBBB-CCCC")
    assert wrong.status_code == 403
    assert "办理码不正确" in wrong.text
    ok = send(created["access_code"].lower())
    assert ok.status_code == 201, ok.text
    assert "合格书.pdf" in ok.text
    state = client.get(f"/api/v1/pledges/{created['id']}", headers=staff.auth("handler")).json()["state"]
    assert state == "evidence_submitted"


def test_staff_reissue_an_access_code_on_the_pledge_page(
    client: TestClient, staff: Staff, session: Session
) -> None:
    from models.pledge import Pledge
    from models.pledges.access import verify
    from tests.test_pledges import body

    created = client.post(
        "/api/v1/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake")
    ).json()
    sign_in(client, staff.handler2)
    page = "/staff/pledges/new"
    hidden = post_form(client, "/staff/pledges/access-code", {"number": created["number"]}, page=page)
    assert hidden.status_code == 404  # another department's pledge
    # The same answer as for a number that does not exist: neither the pledge's existence nor its id.
    assert f"承诺编号“{created['number']}”不存在" in hidden.text
    assert f"#{created['id']}" not in hidden.text
    client.cookies.clear()
    sign_in(client, staff.handler)
    assert "重新发放办理码" in client.get(page).text
    unknown = post_form(client, "/staff/pledges/access-code", {"number": "CN-2026-999999"}, page=page)
    assert unknown.status_code == 404
    assert "不存在" in unknown.text
    ok = post_form(
        client, "/staff/pledges/access-code", {"number": created["number"], "reason": "遗失告知书"}, page=page
    )
    assert ok.status_code == 200, ok.text
    [code] = re.findall(r'class="access-code">([A-Z0-9-]+)<', ok.text)
    assert code != created["access_code"]
    pledge = session.get(Pledge, created["id"])
    session.refresh(pledge)
    assert pledge is not None
    assert verify(code, pledge.access_code_digest)
    assert not verify(created["access_code"], pledge.access_code_digest)


def test_admin_adds_a_department_and_a_user_who_then_signs_in_with_a_password(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    bad = post_form(client, "/staff/admin/departments", {"code": "", "name": "", "level": "city"})
    assert bad.status_code == 422
    assert "必填项未填写" in bad.text
    unknown = post_form(
        client, "/staff/admin/departments", {"code": "D09", "name": "市商务局", "competent_code": "NOPE"}
    )
    assert unknown.status_code == 422
    assert "主管部门 NOPE 不存在" in unknown.text
    added = post_form(
        client,
        "/staff/admin/departments",
        {"code": "D09", "name": "市商务局", "level": "city", "competent_code": "D00"},
    )
    assert added.status_code == 200
    assert "已新增部门 D09" in added.text

    no_dept = post_form(client, "/staff/admin/users", {"name": "商务经办人", "role": "handler"})
    assert no_dept.status_code == 422
    assert "必须指定所属部门" in no_dept.text
    created = post_form(
        client, "/staff/admin/users", {"name": "商务经办人", "role": "handler", "department_code": "D09"}
    )
    assert created.status_code == 200
    token = re.search(r'id="new-token">([^<]+)<', created.text)
    assert token
    new_user = session.exec(select(User).where(User.name == "商务经办人")).one()
    short = post_form(
        client, f"/staff/admin/users/{new_user.id}/password", {"password": "short"}, page="/staff/admin/users"
    )
    assert short.status_code == 422
    assert "至少 10 位" in short.text
    done = post_form(
        client,
        f"/staff/admin/users/{new_user.id}/password",
        {"password": "shangwu-long-password"},
        page="/staff/admin/users",
    )
    assert "已为 商务经办人 设置网页登录密码" in done.text

    client.cookies.clear()
    signed = post_form(client, "/login", {"name": "商务经办人", "password": "shangwu-long-password"})
    assert signed.status_code == 303
    assert signed.headers["location"] == "/staff"
    assert client.get("/staff/admin/users", follow_redirects=False).status_code == 403
    client.cookies.clear()
    sign_in(client, token.group(1))
    assert client.get("/staff").status_code == 200


def test_cli_set_password_then_the_page_accepts_it() -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from models.db import get_engine
    from models.schema import upgrade

    upgrade(get_engine())  # the CLI's own database (SHOUXIN_DATABASE_URL, a temporary file per test)
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "--name", "督办员老赵", "--role", "supervisor"])
    assert added.exit_code == 0, added.output
    with Session(get_engine()) as session:
        user = session.exec(select(User).where(User.name == "督办员老赵")).one()
    short = runner.invoke(app, ["users", "set-password", "--id", str(user.id), "--password", "short"])
    assert short.exit_code == 1
    assert "至少 10 位" in short.output
    missing = runner.invoke(app, ["users", "set-password", "--id", "999", "--password", "long-enough-pw"])
    assert missing.exit_code == 1
    ok = runner.invoke(app, ["users", "set-password", "--id", str(user.id)], input="zhao-long-password\n" * 2)
    assert ok.exit_code == 0, ok.output
    assert "已为用户" in ok.output
    with Session(get_engine()) as session:
        signed_in = authenticate_password(session=session, name="督办员老赵", password="zhao-long-password")
    assert signed_in is not None
    assert signed_in.id == user.id


def test_repeated_failed_sign_ins_are_refused_for_a_while(
    client: TestClient, staff: Staff, session: Session
) -> None:
    user = session.exec(select(User).where(User.name == "督办员老李")).one()
    set_password(session=session, user=user, password="督办-correct-horse")
    session.commit()
    limit = get_settings().tracking_max_failures_per_case
    for _ in range(limit):
        wrong = post_form(client, "/login", {"name": "督办员老李", "password": "not-the-password"})
        assert wrong.status_code == 401
    # Now even the right password waits: the name has used up its tries in the window.
    blocked = post_form(client, "/login", {"name": "督办员老李", "password": "督办-correct-horse"})
    assert blocked.status_code == 429
    assert "登录失败次数过多" in blocked.text
    # Another account from the same address still signs in (the address limit is higher).
    assert post_form(client, "/login", {"token": staff.intake}).status_code == 303

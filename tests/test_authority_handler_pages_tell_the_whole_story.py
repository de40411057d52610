"""What a pledge-accepting authority's handler (经办人) met on the pages in a working day: departments
offered that the service then refused, an imported pledgor's offline code that no notice could carry, a
rejection nobody was told of, and a false-pledge finding or a repair the pledge's page never mentioned."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.calendar import load_calendar
from models.lifecycle import Role
from models.pledge import Pledge
from models.pledges.import_jobs import PledgeImport
from models.register import decide
from models.register.requests import request_repair
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_register import access_code, publish
from tests.test_staff_pledge_pages import PDF, pledge
from tests.web_support import CSRF_FIELD, csrf_of, post_form, sign_in
from web.core import cn_date

API = "/api/v1"
CSV = (
    "承诺人类型,承诺人名称,统一社会信用代码,电子邮箱,承诺事项,承诺内容,承诺期限,受理部门代码,依据\n"
    "企业,示范建材有限公司,91440300100000001W,,建筑工程施工许可证,施工图审查合格书,2026-12-31,,依据\n"
).encode()


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def options(html: str, name: str) -> list[str]:
    select_html = re.search(rf'<select name="{name}".*?</select>', html, re.S)
    assert select_html, name
    return re.findall(r'<option value="([^"]*)"', select_html.group(0))


def version(session: Session, pledge_id: int) -> str:
    session.expire_all()
    found = session.get(Pledge, pledge_id)
    assert found is not None
    return str(found.version)


def test_a_handler_is_offered_only_their_own_department_to_register_or_import_for(
    client: TestClient, session: Session, staff: Staff
) -> None:
    sign_in(client, staff.handler)  # of D01
    assert options(client.get("/staff/pledges/new").text, "authority_code") == ["D01"]
    assert options(client.get("/staff/pledges/import").text, "authority") == [""]
    # A hand-made form naming another department is refused before anything is stored, not row by row.
    token = csrf_of(client, "/staff/pledges/import")
    refused = client.post(
        "/staff/pledges/import",
        data={CSRF_FIELD: token, "authority": "D02"},
        files={"file": ("p.csv", CSV, "text/csv")},
    )
    assert refused.status_code == 422
    assert "经办人只能导入本部门" in refused.text
    assert session.exec(select(PledgeImport)).first() is None
    client.cookies.clear()
    sign_in(client, staff.supervisor)
    assert {"D01", "D02"} <= set(options(client.get("/staff/pledges/new").text, "authority_code"))
    assert {"", "D01", "D02"} <= set(options(client.get("/staff/pledges/import").text, "authority"))


def test_an_offline_code_typed_in_prints_on_the_notice_and_a_typo_neither_prints_nor_locks_out(
    client: TestClient, session: Session, staff: Staff
) -> None:
    created = pledge(client, staff, pledgor_email=None)
    pid, code = created["id"], created["access_code"]
    digest = session.get(Pledge, pid).access_code_digest  # type: ignore[union-attr]
    sign_in(client, staff.handler)
    page = f"/staff/pledges/{pid}"
    assert 'name="form" value="notice_with_code"' in client.get(page).text
    typed = code.lower().replace("-", " ")  # as read off the import's list and typed in
    printed = post_form(
        client, f"{page}/notice", {"form": "notice_with_code", "access_code": typed}, page=page
    )
    assert printed.status_code == 200
    assert printed.headers["cache-control"] == "no-store"
    assert code in printed.text
    pdf = post_form(
        client, f"{page}/notice.pdf", {"form": "notice_with_code", "access_code": code}, page=page
    )
    assert pdf.headers["content-type"] == "application/pdf"
    wrong = "WXYZ-WXYZ-WXYZ" if code != "WXYZ-WXYZ-WXYZ" else "WXYZ-WXYZ-WXY2"
    for _ in range(12):  # more typos than the pledgor's rate limit allows wrong codes
        refused = post_form(
            client, f"{page}/notice", {"form": "notice_with_code", "access_code": wrong}, page=page
        )
        assert refused.status_code == 422
        assert "办理码与承诺" in refused.text
        assert 'id="typed-code-notice" open' in refused.text  # the pledge page, at the field
        assert wrong not in refused.text
    # Nothing re-issued, and the pledgor still gets in with the code.
    session.expire_all()
    assert session.get(Pledge, pid).access_code_digest == digest  # type: ignore[union-attr]
    events = session.exec(select(CaseEvent.event).where(CaseEvent.case_id == pid)).all()
    assert "reissue_access_code" not in events
    client.cookies.clear()
    status = post_form(client, "/pledges/status", {"number": created["number"], "access_code": code})
    assert status.status_code == 200


def _returned(client: TestClient, session: Session, staff: Staff, **over: Any) -> dict[str, Any]:
    created = pledge(client, staff, **over)
    uploaded = client.post(
        f"{API}/pledges/{created['id']}/evidence",
        files={"file": ("审查合格书.pdf", PDF)},
        headers=staff.auth("handler"),
    )
    assert uploaded.status_code == 201, uploaded.text
    sign_in(client, staff.handler)
    page = f"/staff/pledges/{created['id']}"
    form = {"expected_version": version(session, created["id"]), "reason": "合格书缺少审查机构盖章"}
    rejected = post_form(client, f"{page}/act/reject_evidence", form, page=page)
    assert rejected.status_code == 303, rejected.text
    return created


def test_a_rejection_that_reached_nobody_is_for_the_handler_to_tell_and_on_the_status_page(
    client: TestClient, session: Session, staff: Staff
) -> None:
    mailed = _returned(client, session, staff)  # told by e-mail: nothing asked of the handler
    assert "退回告知未能送达" not in client.get(f"/staff/pledges/{mailed['id']}").text
    client.cookies.clear()
    created = _returned(client, session, staff, pledgor_name="乙建设有限公司", pledgor_email=None)
    session.expire_all()
    stored = session.get(Pledge, created["id"])
    assert stored is not None
    day = stored.publication_day
    assert day is not None
    shown = text_of(client.get(f"/staff/pledges/{created['id']}?done=reject_evidence").text)
    assert "退回告知未能送达" in shown
    assert "合格书缺少审查机构盖章" in shown
    assert stored.pledgor_phone is None  # nobody to phone: staff tell it when the pledgor comes or calls
    assert "承诺人未留联系电话，请在其到窗口或来电时告知退回理由" in shown
    assert "请通知其到窗口" not in shown
    # What the notice would have said (models/pledges/mail.py ``resubmission``): the deadline still holds.
    assert (
        f"请其于履约期限 {stored.deadline.isoformat()} 24时前补正后重新提交（退回不改变履约期限）；"
        f"逾期后于 {day.isoformat()} 零时前补交的材料仍予核查，核查期间暂缓公示，经确认的不予公示"
    ) in shown
    client.cookies.clear()
    status = post_form(
        client, "/pledges/status", {"number": created["number"], "access_code": created["access_code"]}
    )
    told = text_of(status.text)
    assert "已退回，请按下列退回理由补正后重新提交" in told
    assert "退回理由 合格书缺少审查机构盖章" in told
    # Returned before its deadline: it still binds; the publication day is an overdue pledge's last chance.
    deadline = session.get(Pledge, created["id"]).deadline  # type: ignore[union-attr]
    marked = f'<time datetime="{deadline.isoformat()}">{cn_date(deadline)}</time>'
    assert f"请于履约期限{marked}24时前补正后重新提交" in status.text
    assert f'<time datetime="{day.isoformat()}">{cn_date(day)}</time>零时前补交的材料仍予核查' in status.text
    # The API answers the same to a client of the pledgor's own.
    answer = client.post(
        f"{API}/public/pledges/{created['number']}/status", json={"access_code": created["access_code"]}
    ).json()
    assert (answer["returned_reason"], answer["resubmit_by"]) == (
        "合格书缺少审查机构盖章",
        deadline.isoformat(),
    )


def test_a_false_pledges_page_names_and_links_the_record_it_created(
    client: TestClient, session: Session, staff: Staff
) -> None:
    created = pledge(client, staff)
    sign_in(client, staff.handler)
    page = f"/staff/pledges/{created['id']}"
    form = {"expected_version": version(session, created["id"]), "reason": "合格书系伪造", "confirmed": "yes"}
    assert post_form(client, f"{page}/act/confirm_false", form, page=page).status_code == 303
    record = session.exec(select(PublishedBreach).where(PublishedBreach.pledge_id == created["id"])).one()
    html = client.get(page).text
    assert f'<a href="/staff/breaches/{record.id}">{record.number}</a>' in html
    text = text_of(html)
    assert "不按逾期规则公示" not in text
    assert f"{record.number} 严重 公示中" in text
    assert f"于 {record.decision_date.isoformat()} 记入失信记录 {record.number}" in text
    # Intake staff open pledge pages but not breach records: they see the number, not a link to a 403.
    client.cookies.clear()
    sign_in(client, staff.intake)
    html = client.get(page).text
    assert record.number in html
    assert f'href="/staff/breaches/{record.id}"' not in html


def test_a_mobile_only_pledgors_untold_rejection_says_the_platform_sends_no_sms(
    client: TestClient, session: Session, staff: Staff
) -> None:
    created = _returned(client, session, staff, pledgor_email=None, pledgor_phone="13900000009")
    shown = text_of(client.get(f"/staff/pledges/{created['id']}?done=reject_evidence").text)
    assert "未留电子邮箱，本平台未开通短信" in shown
    assert "未留电子邮箱或手机号码" not in shown


def test_a_repaired_records_pledge_page_says_it_was_repaired(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", "91440300708461136T"))
    assert record.id is not None
    day = record.repair_earliest
    calendar = load_calendar(session=session)
    request_repair(
        session=session, number=record.number, access_code=access_code(session, record),
        statement="已补交合格书", repair_pledge="今后如期履约", today=day, calendar=calendar,
    )  # fmt: skip
    handler = Actor(name="住建经办人", role=Role.HANDLER, department_id=record.department_id)
    decide(
        session=session, breach_id=record.id, action="approve_repair", actor=handler, reason="已纠正",
        today=day, calendar=calendar,
    )  # fmt: skip
    session.commit()
    sign_in(client, staff.handler)
    html = client.get(f"/staff/pledges/{record.pledge_id}").text
    assert f'<a href="/staff/breaches/{record.id}">{record.number}</a>' in html
    text = text_of(html)
    assert "已公示失信" in text  # the pledge's own state: its record says what became of it
    assert f"失信记录 {record.number} ：已信用修复" in text
    assert f"{record.number} 一般 已信用修复" in text

"""A confirmed government breach is a register record like a pledge breach: a class with its end date,
the department's objection and its repair after rectification (filed by the credit office), expiry, and
the credit platform told of each change; the public list follows the record's state."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.breach import PublishedBreach
from models.complaint import Complaint
from models.platform import PlatformDocument
from models.register import expire_records, expiry_candidates
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_complaints_api import API, act, set_today
from tests.test_government_credit import confirmed


def _record(session: Session) -> PublishedBreach:
    session.expire_all()
    [record] = session.exec(select(PublishedBreach)).all()
    return record


def _documents(session: Session) -> list[tuple[str, str]]:
    session.expire_all()
    rows = session.exec(select(PlatformDocument).order_by(col(PlatformDocument.id))).all()
    return [(str(d.kind), d.payload["record"]["state"]) for d in rows]


def _listed(client: TestClient) -> list[str]:
    items = client.get(f"{API}/public/government-breaches").json()["items"]
    return [i["record_number"] for i in items]


def _file(
    client: TestClient, staff: Staff, who: str, number: str, kind: str, status: int, **body: Any
) -> Any:
    response = client.post(f"{API}/government-breaches/{number}/{kind}", json=body, headers=staff.auth(who))
    assert response.status_code == status, response.text
    return response.json()


def _decide(
    client: TestClient, staff: Staff, who: str, breach_id: int, action: str, status: int = 200
) -> Any:
    response = client.post(
        f"{API}/breaches/{breach_id}/actions/{action}", json={"reason": "经复核"}, headers=staff.auth(who)
    )
    assert response.status_code == status, response.text
    return response.json()


def test_confirmation_creates_a_register_record_of_the_department_pushed_to_the_platform(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = confirmed(client, staff, severity="serious")
    record = _record(session)
    assert (record.source_kind, record.complaint_id, record.subject_kind) == ("complaint", cid, "government")
    assert record.subject_name == "市住房和城乡建设局"
    # 严重: shown 3 years, repair from 1 year on, both from the decision date.
    assert (record.decision_date, record.publication_end, record.repair_earliest) == (
        dt.date(2026, 3, 2),
        dt.date(2029, 3, 2),
        dt.date(2027, 3, 2),
    )
    assert _documents(session) == [("publish", "published")]
    # It is in the register like the pledge records, under its own number.
    page = client.get(f"{API}/public/breaches").json()
    assert [r["record_number"] for r in page["items"]] == [record.number]
    assert page["items"][0]["XDR_LB"] != ""
    assert client.get(f"{API}/public/breaches/{record.number}").status_code == 200


def test_department_objection_is_decided_by_the_credit_office(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    record = _record(session)
    # The department applies in writing; the credit office files it. The department itself cannot.
    _file(client, staff, "handler", record.number, "objection", 403, reason="已按合同付款")
    _file(client, staff, "intake", record.number, "objection", 403, reason="已按合同付款")
    shown = _file(
        client, staff, "supervisor", record.number, "objection", 200,
        reason="已于2月底付清尾款，附银行回单", document_reference="住建函〔2026〕12号",
    )  # fmt: skip
    assert shown["state_label"] == "异议处理中"
    assert _listed(client) == [record.number]  # still shown while it is decided
    # 谁认定、谁修复: the credit office confirmed the breach, so its supervisors decide; neither the subject
    # department nor its 主管部门 (D00) does.
    assert record.id is not None
    _decide(client, staff, "handler", record.id, "uphold_withdraw", status=404)
    _decide(client, staff, "competent", record.id, "uphold_withdraw", status=404)
    decided = _decide(client, staff, "supervisor", record.id, "uphold_withdraw")
    assert decided["state"] == "withdrawn"
    assert _listed(client) == []
    assert _documents(session) == [("publish", "published"), ("withdraw", "withdrawn")]


def test_repair_only_after_rectification_and_the_minimum_period(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = confirmed(client, staff)  # 一般: repair from 3 months on
    record = _record(session)
    repair = {"statement": "已全额支付并完成整改", "repair_pledge": "今后按合同约定按期支付"}
    set_today(client, dt.date(2026, 6, 2))
    refused = _file(client, staff, "supervisor", record.number, "repair", 422, **repair)
    assert "书面说明" in refused["message"]
    act(
        client, staff, "handler", cid, "submit_explanation",
        written_explanation="资金未到位", rectification="已分期支付完毕",
    )  # fmt: skip
    set_today(client, dt.date(2026, 6, 1))
    early = _file(client, staff, "supervisor", record.number, "repair", 422, **repair)
    assert early["repair_earliest"] == "2026-06-02"
    set_today(client, dt.date(2026, 6, 2))
    assert _file(client, staff, "supervisor", record.number, "repair", 200, **repair)["state"] == (
        "repair_requested"
    )
    assert record.id is not None
    _decide(client, staff, "supervisor", record.id, "approve_repair")
    assert _listed(client) == []
    assert _documents(session)[-1] == ("repair", "repaired")


def test_record_expires_at_the_end_of_its_class_period(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff, severity="minor")  # 轻微: 3 months
    record = _record(session)
    assert record.publication_end == dt.date(2026, 6, 2)
    assert expiry_candidates(session=session, today=dt.date(2026, 6, 2)) == []
    [breach_id] = expiry_candidates(session=session, today=dt.date(2026, 6, 3))
    assert (
        expire_records(session=session, ids=[breach_id], today=dt.date(2026, 6, 3), actor=Actor.system()) == 1
    )
    session.commit()
    assert _record(session).state == "expired"
    assert _listed(client) == []
    # 轻微 is kept for its period but never published: the platform had nothing, so nothing is taken down.
    assert _documents(session) == []


# Personal data as the hotline types it into a summary, and as a supervisor might copy it into the text.
NAME = "王小明"
PERSONAL = {
    "mobile": "13912345678",
    "landline": "0571-87654321",
    "id_number": "110101199003071234",
    "bank_card": "6222021234567890",
    "email": "wang.xm@example.com",
}
SUMMARY = (
    f"农民工{NAME}（电话{PERSONAL['mobile']}，座机{PERSONAL['landline']}，身份证{PERSONAL['id_number']}，"
    f"工资卡{PERSONAL['bank_card']}，邮箱{PERSONAL['email']}）反映工程款未付"
)


def _leaks(text: str) -> list[str]:
    found = [k for k, v in PERSONAL.items() if v in text or v.replace("-", "") in text]
    return found + (["name"] if NAME in text else [])


def _xlsx_text(content: bytes) -> str:
    from io import BytesIO

    from openpyxl import load_workbook

    sheet = load_workbook(BytesIO(content)).active
    assert sheet is not None
    return "\n".join(str(c) for row in sheet.iter_rows(values_only=True) for c in row if c is not None)


def test_no_public_output_shows_personal_data(client: TestClient, staff: Staff, session: Session) -> None:
    from tests.test_complaints_api import register

    overrides = {"complainant_name": NAME, "complainant_credit_code": None, "summary": SUMMARY}
    # One record with the prefilled text, one whose supervisor wrote the data into the text and reason.
    first = _confirm_with(client, staff, register(client, staff, **overrides)["id"], public_text=None)
    draft = client.get(
        f"{API}/complaints/{first}/breach-public-text", headers=staff.auth("supervisor")
    ).json()
    assert _leaks(draft["public_text"]) == [], draft
    assert "王*明" in draft["public_text"]
    assert "139****5678" in draft["public_text"]
    written = f"{NAME}（{PERSONAL['mobile']}）反映的工程款，经责令整改仍未支付"
    _confirm_with(
        client, staff, register(client, staff, **overrides)["id"], public_text=written,
        reason=f"拒不整改，联系人{PERSONAL['landline']}、{PERSONAL['email']}、卡号{PERSONAL['bank_card']}",
    )  # fmt: skip
    numbers = [r.number for r in session.exec(select(PublishedBreach)).all()]
    assert len(numbers) == 2
    outputs = {
        "government list": client.get(f"{API}/public/government-breaches").text,
        "register API": client.get(f"{API}/public/breaches").text,
        "csv export": client.get(f"{API}/public/breaches/export?format=csv").text,
        "xlsx export": _xlsx_text(client.get(f"{API}/public/breaches/export?format=xlsx").content),
        "register page": client.get("/register").text,
    }
    for number in numbers:
        outputs[f"record {number}"] = client.get(f"{API}/public/breaches/{number}").text
        outputs[f"record page {number}"] = client.get(f"/register/{number}").text
    session.expire_all()
    for doc in session.exec(select(PlatformDocument)).all():
        outputs[f"platform {doc.document_id}"] = str(doc.payload)
    assert len(outputs) == 5 + 2 * 2 + 2
    leaks = {where: _leaks(text) for where, text in outputs.items() if _leaks(text)}
    assert leaks == {}
    # The masked forms are there: the text is published, not dropped.
    assert "139****5678" in outputs["government list"]
    assert "0571-****4321" in outputs["government list"]


def _confirm_with(client: TestClient, staff: Staff, cid: int, **body: Any) -> int:
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="限期付款")
    act(
        client, staff, "competent", cid, "record_refusal",
        refusal_facts="书面回复拒绝支付", document_reference="住建函〔2026〕8号",
    )  # fmt: skip
    body.setdefault("reason", "期限届满仍拒不整改")
    act(
        client, staff, "supervisor", cid, "confirm_breach", **{k: v for k, v in body.items() if v is not None}
    )
    return cid


def test_confirm_form_is_prefilled_with_the_masked_summary_and_publishes_what_is_sent(
    client: TestClient, staff: Staff, session: Session
) -> None:
    from tests.test_complaints_api import register
    from tests.web_support import post_form, sign_in

    overrides = {"complainant_name": NAME, "complainant_credit_code": None, "summary": SUMMARY}
    cid = register(client, staff, **overrides)["id"]
    for who, action, extra in (
        ("intake", "accept", {}),
        ("intake", "dispatch", {"lead_department_code": "D01"}),
        ("handler", "sign_for", {}),
        ("competent", "verify_true", {}),
        ("competent", "order_rectification", {"deadline_days": 5, "requirements": "限期付款"}),
        ("competent", "record_refusal", {"refusal_facts": "拒绝支付", "document_reference": "住建函8号"}),
    ):
        act(client, staff, who, cid, action, **extra)
    sign_in(client, staff.supervisor)
    page = client.get(f"/staff/complaints/{cid}").text
    assert 'name="public_text" value="农民工王*明（电话139****5678' in page
    assert _leaks(page.split('name="public_text"', 1)[1].split(">", 1)[0]) == []
    version = session.get(Complaint, cid)
    assert version is not None
    response = post_form(
        client,
        f"/staff/complaints/{cid}/act/confirm_breach",
        {"reason": "拒不整改", "severity": "general", "public_text": "拖欠工程款，经责令整改仍拒不整改",
         "expected_version": version.version},
        page=f"/staff/complaints/{cid}",
    )  # fmt: skip
    assert response.status_code == 303, response.text
    assert _record(session).matter == "拖欠工程款，经责令整改仍拒不整改"

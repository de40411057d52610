"""Refusal to rectify → a confirmed breach in the department's government credit record (政务信用记录)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.government_credit_record import GovernmentCreditRecord, breach_counts
from models.org import Department
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_complaints_api import API, act, dispatched_and_signed, events


def confirmed(client: TestClient, staff: Staff, **body: Any) -> int:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="限期付款")
    # Before the rectification deadline, 拒不整改 is confirmed on a refusal recorded with its evidence.
    act(
        client,
        staff,
        "competent",
        cid,
        "record_refusal",
        refusal_facts="书面回复拒绝支付",
        document_reference="住建函〔2026〕8号",
    )
    act(client, staff, "supervisor", cid, "confirm_breach", reason="期限届满仍拒不整改", **body)
    return cid


def test_confirmed_breach_is_recorded_once_with_its_audit_event(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = confirmed(client, staff, severity="serious")
    [record] = session.exec(select(GovernmentCreditRecord)).all()
    d01 = session.exec(select(Department).where(Department.code == "D01")).one()
    assert (record.complaint_id, record.department_id) == (cid, d01.id)
    assert str(record.severity) == "serious"
    assert record.decision_date.isoformat() == "2026-03-02"
    assert record.recorded_by == "督办员老李"
    assert "拒不整改" in record.facts
    assert "1103号" in record.basis
    [event] = session.exec(select(CaseEvent).where(CaseEvent.event == "confirm_breach")).all()
    assert event.data["credit_record_id"] == record.id
    assert event.data["severity"] == "serious"
    assert breach_counts(session=session) == {d01.id: 1}
    # A second confirmation is refused by the lifecycle; nothing more is recorded.
    act(client, staff, "supervisor", cid, "confirm_breach", status=409, reason="重复确认")
    assert len(session.exec(select(GovernmentCreditRecord)).all()) == 1


def test_reply_from_breach_confirmed_by_the_competent_department(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = confirmed(client, staff)
    act(
        client,
        staff,
        "handler",
        cid,
        "submit_explanation",
        written_explanation="资金未到位",
        rectification="已分期支付",
    )
    act(client, staff, "handler2", cid, "reply", status=404, reply_text="不是本部门的案件")
    c = act(client, staff, "competent", cid, "reply", reply_text="已确认违约失信并记入政务信用记录。")
    assert c["state"] == "replied"
    assert events(session, cid)[-3:] == ["confirm_breach", "submit_explanation", "reply"]


def test_credit_record_endpoint_is_for_supervisors_admins_and_the_department(
    client: TestClient, staff: Staff
) -> None:
    confirmed(client, staff)
    url = f"{API}/departments/D01/credit-record"
    for who in ("supervisor", "admin", "handler"):
        response = client.get(url, headers=staff.auth(who))
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["department_name"], body["confirmed_breaches"]) == ("市住房和城乡建设局", 1)
        assert body["records"][0]["matter"] == "工程竣工验收后工程款逾期未支付"
    for who in ("handler2", "intake", "competent"):
        assert client.get(url, headers=staff.auth(who)).status_code == 403
    assert client.get(url).status_code == 401
    other = client.get(f"{API}/departments/D02/credit-record", headers=staff.auth("supervisor")).json()
    assert (other["confirmed_breaches"], other["records"]) == (0, [])
    assert client.get(f"{API}/departments/X9/credit-record", headers=staff.auth("admin")).status_code == 404


def test_public_list_of_government_breaches_follows_the_setting(
    client: TestClient, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    confirmed(client, staff)
    items = client.get(f"{API}/public/government-breaches").json()["items"]
    assert items == [
        {
            "department_name": "市住房和城乡建设局",
            "matter": "工程竣工验收后工程款逾期未支付",
            "category_label": "拖欠中小企业账款",
            "decision_date": "2026-03-02",
            "severity_label": "一般",
            "record_number": "GS-2026-000001",
            "credit_code": None,
            "facts": "经责令整改，拒不整改：期限届满仍拒不整改",
            "basis": "发改财金〔2023〕1103号：拒不整改的，确认为违约失信",
            "publication_end": "2027-03-02",  # 一般: 12 months
            "deciding_department_name": "市发展和改革委员会",  # D01's 主管部门
            "state": "published",
            "state_label": "公示中",
        }
    ]
    monkeypatch.setenv("SHOUXIN_PUBLISH_GOVERNMENT_BREACHES", "false")
    get_settings.cache_clear()
    response = client.get(f"{API}/public/government-breaches")
    assert response.status_code == 404
    assert "未公开" in response.json()["message"]

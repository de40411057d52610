"""Government breaches are counted once, on the department each was confirmed against, only while the
finding stands, and are public only where the locality publishes them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models import scorecard
from models.breach import PublishedBreach, Severity
from models.clock import Clock
from models.government_credit_record import GovernmentCreditRecord
from models.org import Department
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_complaints_api import API, act
from tests.test_government_credit import confirmed

CODE = "11330100002497456Y"  # the department's USCC
SHANGHAI = Clock(tz=ZoneInfo("Asia/Shanghai"))


def _month(session: Session) -> tuple[int, int]:
    rows = scorecard.breaches_per_month(session=session, clock=SHANGHAI, today=dt.date(2026, 12, 31))
    return sum(r[1] for r in rows), sum(r[2] for r in rows)


def _scores(session: Session) -> dict[str, int]:
    session.expire_all()
    return {
        r.code: r.breaches for r in scorecard.department_scores(session=session, today=dt.date(2026, 3, 2))
    }


def _credit(client: TestClient, staff: Staff, code: str) -> dict:
    response = client.get(f"{API}/departments/{code}/credit-record", headers=staff.auth("supervisor"))
    assert response.status_code == 200, response.text
    body: dict = response.json()
    return body


def _register_row(session: Session) -> PublishedBreach:
    session.expire_all()
    [row] = session.exec(select(PublishedBreach)).all()
    return row


def test_the_month_chart_counts_a_confirmed_government_breach_once(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    # The register row (source_kind complaint) is not a published pledge breach as well.
    assert _month(session) == (0, 1)


def reopened_and_redispatched(client: TestClient, staff: Staff) -> int:
    """A breach confirmed against D01, replied and closed, then reopened and dispatched to D02."""
    cid = confirmed(client, staff)
    act(
        client,
        staff,
        "handler",
        cid,
        "submit_explanation",
        written_explanation="资金未到位",
        rectification="分期",
    )
    act(client, staff, "competent", cid, "reply", reply_text="已确认违约失信")
    act(client, staff, "intake", cid, "close", satisfaction="满意")
    act(client, staff, "supervisor", cid, "reopen", reason="实际应由财政局支付")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D02")
    return cid


def confirmed_against_two_departments(client: TestClient, staff: Staff) -> int:
    """``reopened_and_redispatched``, then confirmed against D02 too."""
    return confirm_again_against_d02(client, staff, reopened_and_redispatched(client, staff))


def confirm_again_against_d02(client: TestClient, staff: Staff, cid: int) -> int:
    """The reopened case signed for by D02 and confirmed against it."""
    act(client, staff, "handler2", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="限期拨付")
    act(
        client,
        staff,
        "competent",
        cid,
        "record_refusal",
        refusal_facts="书面拒绝",
        document_reference="财函8号",
    )
    act(client, staff, "supervisor", cid, "confirm_breach", reason="财政局拒不整改")
    return cid


def test_a_case_reopened_and_confirmed_against_another_department_is_each_departments_own_breach(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = reopened_and_redispatched(client, staff)
    # Reopening and re-dispatching alone does not move D01's breach to D02.
    assert (_scores(session)["D01"], _scores(session).get("D02", 0)) == (1, 0)
    confirm_again_against_d02(client, staff, cid)

    session.expire_all()
    records = session.exec(select(GovernmentCreditRecord).order_by(GovernmentCreditRecord.id)).all()
    departments = {d.id: d.code for d in session.exec(select(Department)).all()}
    assert [(departments[r.department_id], r.facts) for r in records] == [
        ("D01", "经责令整改，拒不整改：期限届满仍拒不整改"),
        ("D02", "经责令整改，拒不整改：财政局拒不整改"),
    ]
    assert (
        _credit(client, staff, "D01")["confirmed_breaches"],
        _credit(client, staff, "D02")["confirmed_breaches"],
    ) == (
        1,
        1,
    )
    scores = _scores(session)
    assert (scores["D01"], scores["D02"]) == (1, 1)
    assert _month(session) == (0, 2)
    # Each department's breach is its own register record, linked from its credit record.
    registered = {r.id: r for r in session.exec(select(PublishedBreach)).all()}
    assert sorted(registered[r.breach_id].subject_name for r in records if r.breach_id) == sorted(
        session.get(Department, r.department_id).name
        for r in records  # type: ignore[union-attr]
    )


def test_government_breaches_are_public_nowhere_while_the_setting_is_off(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    d01 = session.exec(select(Department).where(Department.code == "D01")).one()
    d01.credit_code = CODE
    session.add(d01)
    session.commit()
    confirmed(client, staff)
    number = _register_row(session).number
    assert client.get(f"{API}/public/breaches/{number}").status_code == 200
    assert [r["record_number"] for r in client.get(f"{API}/public/credit/{CODE}").json()["records"]] == [
        number
    ]
    assert number in client.get(f"{API}/public/breaches/export").content.decode("utf-8-sig")
    assert number in client.get("/register").text

    monkeypatch.setenv("SHOUXIN_PUBLISH_GOVERNMENT_BREACHES", "false")
    get_settings.cache_clear()
    assert client.get(f"{API}/public/government-breaches").status_code == 404
    assert client.get(f"{API}/public/breaches").json()["items"] == []
    assert client.get(f"{API}/public/breaches/{number}").status_code == 404
    assert client.get(f"{API}/public/credit/{CODE}").json()["records"] == []
    assert number not in client.get(f"{API}/public/breaches/export").content.decode("utf-8-sig")
    assert number not in client.get("/register").text
    # Internal still: the department's record keeps the finding.
    assert _credit(client, staff, "D01")["confirmed_breaches"] == 1


def test_a_finding_withdrawn_on_an_upheld_objection_is_kept_marked_and_not_counted(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    row = _register_row(session)
    r = client.post(
        f"{API}/government-breaches/{row.number}/objection",
        json={"reason": "已付清"},
        headers=staff.auth("supervisor"),
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"{API}/breaches/{row.id}/actions/uphold_withdraw",
        json={"reason": "异议成立，认定错误"},
        headers=staff.auth("supervisor"),
    )
    assert r.status_code == 200, r.text

    body = _credit(client, staff, "D01")
    assert body["confirmed_breaches"] == 0
    [record] = body["records"]
    assert record["withdrawn_on"] == "2026-03-02"
    assert _scores(session).get("D01", 0) == 0
    assert _month(session) == (0, 0)


def test_a_severity_corrected_on_an_upheld_objection_reaches_the_credit_record(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    row = _register_row(session)
    r = client.post(
        f"{API}/government-breaches/{row.number}/objection",
        json={"reason": "情节较轻"},
        headers=staff.auth("supervisor"),
    )
    assert r.status_code == 200, r.text
    r = client.post(
        f"{API}/breaches/{row.id}/actions/uphold_correct",
        json={"reason": "异议成立，更正严重程度", "corrected": {"severity": "minor"}},
        headers=staff.auth("supervisor"),
    )
    assert r.status_code == 200, r.text

    session.expire_all()
    [record] = session.exec(select(GovernmentCreditRecord)).all()
    assert (record.severity, record.withdrawn_on) == (Severity.MINOR, None)
    assert _credit(client, staff, "D01")["confirmed_breaches"] == 1

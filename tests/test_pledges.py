"""Pledges through the API: registration, pending calendar, credit check, evidence, actions, import."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from models.errors import ValidationFailed
from models.pledge import Pledge, check_deadline
from models.settings import get_settings
from tests.conftest import Staff

CODE = "91440300708461136T"


def body(**over: Any) -> dict[str, Any]:
    data = {
        "pledgor_kind": "enterprise", "pledgor_name": "示范建设有限公司", "pledgor_credit_code": CODE,
        "pledgor_email": "a@example.com", "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书",
        "deadline": "2026-02-12", "authority_code": "D01", "legal_basis": "《建筑法》第八条",
    }  # fmt: skip
    return {**data, **over}


def registered(client: TestClient, staff: Staff) -> dict[str, Any]:
    """A pledge registered through the API by intake (deadline 2026-04-30): its answer, with the code."""
    answer = client.post("/api/v1/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake"))
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    return created


def test_register_computes_publication_day(client: TestClient, staff: Staff) -> None:
    r = client.post("/api/v1/pledges", json=body(deadline="2026-09-29"), headers=staff.auth("intake"))
    assert r.status_code == 201, r.text
    data = r.json()
    assert data["number"].startswith("CN-2026-")
    assert data["publication_day"] == "2026-10-14"  # 7th working day after, across the National Day week
    assert data["publication_day_status"] == "computed"
    assert data["calendar_version"]
    got = client.get(f"/api/v1/pledges/{data['id']}", headers=staff.auth("handler")).json()
    assert got["publication_day"] == "2026-10-14"
    events = client.get(f"/api/v1/pledges/{data['id']}/events", headers=staff.auth("handler")).json()
    assert [e["event"] for e in events] == ["register"]


def test_a_back_registered_pledge_gets_its_working_days_from_the_registration_day(
    client: TestClient, staff: Staff
) -> None:
    # Registered on 2026-03-02 with a deadline of 2026-02-12: the deadline's 7th working day (02-28) is
    # already past, so the pledgor gets 7 working days from registration (03-11), not publication at the
    # next sweep with a publication period counted from a day already gone.
    r = client.post("/api/v1/pledges", json=body(deadline="2026-02-12"), headers=staff.auth("intake"))
    assert r.status_code == 201, r.text
    assert r.json()["publication_day"] == "2026-03-11"
    # Any past deadline counts from registration, however close; one not yet past keeps its own day.
    recent = client.post("/api/v1/pledges", json=body(deadline="2026-03-01"), headers=staff.auth("intake"))
    assert recent.json()["publication_day"] == "2026-03-11"
    ahead = client.post("/api/v1/pledges", json=body(deadline="2026-03-04"), headers=staff.auth("intake"))
    assert ahead.json()["publication_day"] == "2026-03-13"


@pytest.mark.parametrize("deadline", ["0001-01-01", "1900-01-01", "2025-03-01", "2031-03-03", "9999-12-31"])
def test_an_implausible_deadline_is_refused_naming_the_date(
    client: TestClient, staff: Staff, session: Session, deadline: str
) -> None:
    r = client.post("/api/v1/pledges", json=body(deadline=deadline), headers=staff.auth("intake"))
    assert r.status_code == 422, r.text
    answer = r.json()
    assert answer["field"] == "deadline"
    assert f"承诺期限 {deadline}" in answer["message"]
    assert "2025-03-02 至 2031-03-02" in answer["message"]
    assert "数值" not in answer["message"]  # a date, not "a number out of range"
    assert session.exec(select(func.count()).select_from(Pledge)).one() == 0


def test_the_deadline_range_ends_are_accepted_and_follow_the_settings(
    client: TestClient, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    for deadline in ("2025-03-02", "2031-03-02"):
        r = client.post("/api/v1/pledges", json=body(deadline=deadline), headers=staff.auth("intake"))
        assert r.status_code == 201, r.text
    monkeypatch.setenv("SHOUXIN_PLEDGE_DEADLINE_YEARS_AFTER", "1")
    get_settings.cache_clear()
    r = client.post("/api/v1/pledges", json=body(deadline="2027-03-03"), headers=staff.auth("intake"))
    assert r.status_code == 422
    assert r.json()["latest"] == "2027-03-02"


def test_check_deadline_clamps_a_leap_day() -> None:
    # One year before 2028-02-29 is 2027-02-28: the range is computed, not an error.
    check_deadline(deadline=dt.date(2027, 2, 28), today=dt.date(2028, 2, 29))
    with pytest.raises(ValidationFailed):
        check_deadline(deadline=dt.date(2027, 2, 27), today=dt.date(2028, 2, 29))


def test_pending_calendar_names_the_year(client: TestClient, staff: Staff) -> None:
    r = client.post("/api/v1/pledges", json=body(deadline="2027-03-01"), headers=staff.auth("intake"))
    assert r.status_code == 201, r.text
    assert r.json()["publication_day"] is None
    assert r.json()["publication_day_status"] == "pending_calendar"
    assert "2027" in r.json()["publication_day_message"]
    # December deadlines: the missing year is the first one the calendar lacks, not deadline year + 1.
    late = client.post("/api/v1/pledges", json=body(deadline="2027-12-05"), headers=staff.auth("intake"))
    assert "公示日落在 2027 年" in late.json()["publication_day_message"]


def test_a_pledge_fulfilled_before_its_year_is_loaded_says_it_is_not_published(
    client: TestClient, staff: Staff
) -> None:
    """Not "load the calendar of year N": a fulfilled pledge is never published, and the year it named was
    guessed (it moved to the year after once the next notice was loaded)."""
    pid = client.post(
        "/api/v1/pledges", json=body(deadline="2027-03-01"), headers=staff.auth("intake")
    ).json()["id"]
    h = staff.auth("handler")
    r = client.post(
        f"/api/v1/pledges/{pid}/evidence", files={"file": ("合格书.pdf", b"%PDF-1.7 x")}, headers=h
    )
    assert r.status_code == 201, r.text
    done = client.post(f"/api/v1/pledges/{pid}/actions/confirm", json={}, headers=h)
    assert done.status_code == 200, done.text
    shown = client.get(f"/api/v1/pledges/{pid}", headers=h).json()
    assert shown["publication_day"] is None
    assert shown["publication_day_status"] == "not_applicable"
    assert "不公示" in shown["publication_day_message"]
    assert "2027" not in shown["publication_day_message"]


def test_enterprise_needs_a_valid_credit_code(client: TestClient, staff: Staff) -> None:
    r = client.post("/api/v1/pledges", json=body(pledgor_credit_code=None), headers=staff.auth("intake"))
    assert r.status_code == 422
    r = client.post(
        "/api/v1/pledges", json=body(pledgor_credit_code=CODE[:-1] + "X"), headers=staff.auth("intake")
    )
    assert r.status_code == 422
    assert "校验码" in r.json()["message"]


def test_handler_registers_only_for_own_department(client: TestClient, staff: Staff) -> None:
    r = client.post("/api/v1/pledges", json=body(authority_code="D02"), headers=staff.auth("handler"))
    assert r.status_code == 403


def test_credit_check_refuses_false_pledgor(client: TestClient, staff: Staff, session: Session) -> None:
    pid = client.post("/api/v1/pledges", json=body(), headers=staff.auth("intake")).json()["id"]
    r = client.post(
        f"/api/v1/pledges/{pid}/actions/confirm_false",
        json={"reason": "伪造材料"},
        headers=staff.auth("handler"),
    )
    assert r.status_code == 200, r.text
    r = client.post("/api/v1/pledges", json=body(), headers=staff.auth("intake"))
    assert r.status_code == 422
    assert "虚假承诺" in r.json()["message"]
    get_settings().credit_check_enabled = False
    try:
        assert client.post("/api/v1/pledges", json=body(), headers=staff.auth("intake")).status_code == 201
    finally:
        get_settings.cache_clear()


def test_a_fulfilled_pledge_found_false_later_bars_its_pledgor(
    client: TestClient, staff: Staff, session: Session
) -> None:
    """A forged certificate found after the authority confirmed fulfilment (RULEBOOK pledges §5)."""
    pid = client.post(
        "/api/v1/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake")
    ).json()["id"]
    h = staff.auth("handler")
    r = client.post(
        f"/api/v1/pledges/{pid}/evidence", files={"file": ("合格书.pdf", b"%PDF-1.7 x")}, headers=h
    )
    assert r.status_code == 201, r.text
    assert client.post(f"/api/v1/pledges/{pid}/actions/confirm", json={}, headers=h).status_code == 200
    false = client.post(
        f"/api/v1/pledges/{pid}/actions/confirm_false", json={"reason": "事后核查发现合格书系伪造"}, headers=h
    )
    assert false.status_code == 200, false.text
    assert false.json()["state"] == "false_pledge"
    again = client.post("/api/v1/pledges", json=body(), headers=staff.auth("intake"))
    assert again.status_code == 422
    assert "虚假承诺" in again.json()["message"]


def test_evidence_upload_reject_and_confirm(client: TestClient, staff: Staff, tmp_path: Any) -> None:
    pid = client.post(
        "/api/v1/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake")
    ).json()["id"]
    h = staff.auth("handler")
    bad = client.post(
        f"/api/v1/pledges/{pid}/evidence", files={"file": ("a.pdf", b"MZ\x90\x00evil")}, headers=h
    )
    assert bad.status_code == 422
    assert "PDF" in bad.json()["message"]
    content = b"%PDF-1.7 evidence"
    r = client.post(
        f"/api/v1/pledges/{pid}/evidence", files={"file": ("../../etc/合格书.pdf", content)}, headers=h
    )
    assert r.status_code == 201, r.text
    ev = r.json()["evidence"]
    assert ev["filename"] == "合格书.pdf"
    assert ev["content_type"] == "application/pdf"
    sha = ev["sha256"]
    assert (get_settings().upload_dir / sha[:2] / sha[2:4] / sha).read_bytes() == content
    pledge = r.json()["pledge"]
    assert pledge["state"] == "evidence_submitted"
    actions = client.get(f"/api/v1/pledges/{pid}/actions", headers=h).json()
    assert {a["event"] for a in actions} >= {"confirm", "reject_evidence"}
    stale = client.post(f"/api/v1/pledges/{pid}/actions/confirm", json={"expected_version": 1}, headers=h)
    assert stale.status_code == 409
    r = client.post(
        f"/api/v1/pledges/{pid}/actions/reject_evidence",
        json={"expected_version": pledge["version"], "reason": "缺少盖章页"},
        headers=h,
    )
    assert r.json()["state"] == "registered"
    assert r.json()["deadline"] == "2026-04-30"
    client.post(
        f"/api/v1/pledges/{pid}/evidence", files={"file": ("b.png", b"\x89PNG\r\n\x1a\n..")}, headers=h
    )
    r = client.post(f"/api/v1/pledges/{pid}/actions/confirm", json={}, headers=h)
    assert r.json()["state"] == "fulfilled"
    other = client.post(
        f"/api/v1/pledges/{pid}/actions/cancel", json={"reason": "x"}, headers=staff.auth("handler2")
    )
    # Another department's handler learns nothing: acting or uploading answers 404, as reading does.
    assert other.status_code == 404
    upload = client.post(
        f"/api/v1/pledges/{pid}/evidence",
        files={"file": ("c.png", b"\x89PNG\r\n\x1a\n..")},
        headers=staff.auth("handler2"),
    )
    assert upload.status_code == 404
    missing = client.post("/api/v1/pledges/999999/actions/cancel", json={"reason": "x"}, headers=h)
    assert missing.status_code == 404
    assert other.json()["message"] == missing.json()["message"].replace("999999", str(pid))


def test_evidence_size_limit(client: TestClient, staff: Staff, monkeypatch: Any) -> None:
    pid = client.post(
        "/api/v1/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake")
    ).json()["id"]
    monkeypatch.setenv("SHOUXIN_UPLOAD_MAX_BYTES", "1024")
    get_settings.cache_clear()
    r = client.post(
        f"/api/v1/pledges/{pid}/evidence",
        files={"file": ("a.pdf", b"%PDF-" + b"0" * 2000)},
        headers=staff.auth("handler"),
    )
    assert r.status_code == 413
    assert "文件过大" in r.json()["message"]


CSV = (
    "\ufeff承诺人类型,承诺人名称,统一社会信用代码,电子邮箱,承诺事项,承诺内容,承诺期限,受理部门代码,依据\n"
    f"企业,甲公司,{CODE},a@example.com,施工许可,审查合格书,2026-04-30,D01,建筑法\n"
    "企业,乙公司,91440300708461136X,,施工许可,审查合格书,2026-04-30,D01,建筑法\n"
    "个人,张三,,,执业登记,学历证明,2026年5月8日,D01,\n"
    "个人,李四,,not-an-email,执业登记,学历证明,2026-13-01,D99,\n"
)

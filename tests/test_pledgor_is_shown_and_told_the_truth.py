"""What the pledgor is shown and told matches what the system does: the upload confirmation's review days,
the status page's publication day (pending, held, after a rejection), the printed 告知承诺书's rule and
closed state, and the notices of a cancellation and of a false-pledge finding."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.main import create_app
from models.clock import Clock
from models.lifecycle import Role
from models.outbox import Notification
from models.pledge import Pledge, PledgeEvidence
from models.pledges.self_service import evidence_receipt
from models.publication import sweep
from models.settings import get_settings
from models.workflow import Actor
from notifications.render import render as render_mail
from tests.conftest import Staff
from tests.web_support import CSRF_FIELD, csrf_of, post_form, sign_in
from web.core import env
from web.files import upload_hint

API = "/api/v1"
PDF = b"%PDF-1.7\n% evidence\n"
SYSTEM = Actor(name="sys", role=Role.SYSTEM)


def app_at(engine: Engine, day: dt.date) -> TestClient:
    clock = Clock(tz=Clock.from_settings().tz, pinned_today=day)
    return TestClient(create_app(engine=engine, clock=clock, check_schema=False))


def register(c: TestClient, staff: Staff, **over: Any) -> dict[str, Any]:
    body = {
        "pledgor_kind": "enterprise", "pledgor_name": "甲建设有限公司",
        "pledgor_credit_code": "91440300708461136T", "pledgor_email": "a@example.com",
        "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书", "deadline": "2026-03-10",
        "authority_code": "D01", "legal_basis": "《建筑法》第八条", **over,
    }  # fmt: skip
    r = c.post(f"{API}/pledges", json=body, headers=staff.auth("handler"))
    assert r.status_code == 201, r.text
    return r.json()


def status_text(c: TestClient, created: dict[str, Any]) -> str:
    r = post_form(c, "/pledges/status", {"number": created["number"], "access_code": created["access_code"]})
    assert r.status_code == 200, r.text
    m = re.search(r'<section class="card" id="pledge-status">(.*?)</section>', r.text, re.S)
    assert m is not None
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", m.group(1)))


def upload(c: TestClient, created: dict[str, Any]) -> str:
    number = created["number"]
    token = csrf_of(c, f"/pledges/evidence?number={number}")
    r = c.post(
        "/pledges/evidence",
        data={CSRF_FIELD: token, "number": number, "access_code": created["access_code"]},
        files={"file": ("合格书.pdf", PDF, "application/pdf")},
        follow_redirects=False,
    )
    assert r.status_code == 201, r.text
    return r.text


def notice_text(c: TestClient, staff: Staff, pledge_id: int) -> str:
    sign_in(c, staff.handler)
    r = c.get(f"/staff/pledges/{pledge_id}/notice")
    assert r.status_code == 200, r.text
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", r.text))


def pledgor_mails(session: Session, pledge_id: int) -> dict[str, dict[str, Any]]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_kind == "pledge", Notification.case_id == pledge_id)
    return {n.template: n.context for n in session.exec(stmt.order_by(col(Notification.id))).all()}


@pytest.fixture
def review_days_10(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("SHOUXIN_PLEDGE_EVIDENCE_REVIEW_WORKING_DAYS", "10")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_upload_confirmation_states_the_configured_review_days_not_a_fixed_five(
    engine: Engine, session: Session, staff: Staff, review_days_10: Any
) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    created = register(c, staff)
    page = upload(c, created)
    assert "5 个工作日" not in page
    receipt = evidence_receipt(session=session, pledge_id=created["id"])
    mail = pledgor_mails(session, created["id"])["pledge_evidence_received"]
    # The mail keeps the ISO day (its template writes it in Chinese); the page's sentence has it in Chinese.
    assert mail["review_due"] == "2026-03-16"
    assert receipt == {"working_days": 10, "review_due": "2026年3月16日", "held": True}
    row = session.exec(select(PledgeEvidence)).one()
    html = env.get_template("pledge_evidence.html").render(
        done=[row], receipt=receipt, error=None, number=created["number"], csrf_field=CSRF_FIELD,
        csrf_token="t", request_path="/pledges/evidence", user=None, title="提交履约材料",
        upload_hint=upload_hint(multiple=True),
    )  # fmt: skip
    assert "审批部门将在 10 个工作日内核查（核查期限：2026年3月16日），核查期间暂缓公示" in html


def test_status_page_says_pending_calendar_for_a_year_not_loaded(
    engine: Engine, session: Session, staff: Staff
) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    created = register(c, staff, deadline="2026-12-28")
    assert "逾期未履约的公示日 待日历确定" in status_text(c, created)
    c = app_at(engine, dt.date(2026, 12, 28))
    upload(c, created)
    assert "材料核查期限 待日历确定" in status_text(c, created)


def test_status_page_says_publication_is_held_while_on_time_evidence_is_reviewed(
    engine: Engine, session: Session, staff: Staff
) -> None:
    created = register(app_at(engine, dt.date(2026, 3, 2)), staff)
    upload(app_at(engine, dt.date(2026, 3, 10)), created)
    sweep(engine=engine, today=dt.date(2026, 3, 20), actor=SYSTEM)
    text = status_text(app_at(engine, dt.date(2026, 3, 20)), created)
    assert "核查期间暂缓公示" in text
    assert "2026-03-19" not in text  # the day passed while the review held it
    assert "2026年3月19日" not in text


def test_status_page_drops_the_rejected_files_submission_day(
    engine: Engine, session: Session, staff: Staff
) -> None:
    created = register(app_at(engine, dt.date(2026, 3, 2)), staff)
    upload(app_at(engine, dt.date(2026, 3, 10)), created)
    c = app_at(engine, dt.date(2026, 3, 20))
    r = c.post(
        f"{API}/pledges/{created['id']}/actions/reject_evidence", json={"reason": "不清晰"},
        headers=staff.auth("handler"),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    text = status_text(c, created)
    assert "材料提交日期" not in text
    assert "已退回，请按下列退回理由补正后重新提交" in text
    assert "逾期未履约的公示日 2026年3月25日" in text


def test_notice_of_a_back_registered_pledge_counts_its_day_from_registration(
    engine: Engine, session: Session, staff: Staff
) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    created = register(c, staff, deadline="2026-02-24")
    assert created["publication_day"] == "2026-03-11"
    text = notice_text(c, staff, created["id"])
    assert "期限届满后第 7 个工作日" not in text
    assert "公示日为登记之日（2026年3月2日）后第 7 个工作日（2026年3月11日）" in text


def test_notice_after_a_late_rejection_names_the_rejection_as_the_days_origin(
    engine: Engine, session: Session, staff: Staff
) -> None:
    created = register(app_at(engine, dt.date(2026, 3, 2)), staff)
    upload(app_at(engine, dt.date(2026, 3, 10)), created)
    c = app_at(engine, dt.date(2026, 3, 20))
    r = c.post(
        f"{API}/pledges/{created['id']}/actions/reject_evidence", json={"reason": "不清晰"},
        headers=staff.auth("handler"),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    text = notice_text(c, staff, created["id"])
    assert "期限届满后第 7 个工作日" not in text
    assert "材料于2026年3月20日被退回，公示日顺延至退回之日后第 3 个工作日（2026年3月25日）" in text


def test_cancelled_pledges_notice_is_marked_and_promises_no_publication(
    engine: Engine, session: Session, staff: Staff
) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    created = register(c, staff)
    r = c.post(
        f"{API}/pledges/{created['id']}/actions/cancel", json={"reason": "名称录入错误"},
        headers=staff.auth("handler"),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    text = notice_text(c, staff, created["id"])
    assert "告知承诺书（已撤销）" in text
    assert "本承诺已撤销，不再办理，不予公示" in text
    assert "公示为违约失信记录" not in text
    assert "2026-03-19" not in text
    assert "2026年3月19日" not in text


def test_cancellation_is_told_to_the_pledgor_with_what_to_correct(
    engine: Engine, session: Session, staff: Staff
) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    created = register(c, staff, pledgor_name="甲建设有限工司")
    reason = "承诺人名称录入错误，请核对营业执照后重新申请"
    r = c.post(
        f"{API}/pledges/{created['id']}/actions/cancel", json={"reason": reason},
        headers=staff.auth("handler"),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    context = pledgor_mails(session, created["id"])["pledge_cancelled"]
    assert context["reason"] == reason
    assert context["decided_on"] == "2026-03-02"
    message = render_mail("pledge_cancelled", context)
    assert reason in message.text
    assert reason in message.html
    assert "不予公示" in message.text


def test_false_pledge_finding_is_told_with_its_reason_and_consequences(
    engine: Engine, session: Session, staff: Staff
) -> None:
    created = register(app_at(engine, dt.date(2026, 3, 2)), staff)
    upload(app_at(engine, dt.date(2026, 3, 9)), created)
    c = app_at(engine, dt.date(2026, 3, 12))
    for action, body in (("confirm", {}), ("confirm_false", {"reason": "合格书系伪造"})):
        r = c.post(
            f"{API}/pledges/{created['id']}/actions/{action}", json=body, headers=staff.auth("handler")
        )
        assert r.status_code == 200, r.text
    session.expire_all()
    assert session.get(Pledge, created["id"]).state == "false_pledge"  # type: ignore[union-attr]
    context = pledgor_mails(session, created["id"])["pledge_found_false"]
    message = render_mail("pledge_found_false", context)
    for part in (message.text, message.html):
        assert "合格书系伪造" in part
        for consequence in ("终止", "责令", "撤销", "不再适用告知承诺方式"):
            assert consequence in part

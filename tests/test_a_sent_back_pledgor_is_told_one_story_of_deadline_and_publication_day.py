"""A pledgor whose evidence is sent back (退回材料) is told one story on the status page, in the rejection
mail and SMS and in the overdue mail that may follow: the pledge's own deadline (24:00 of its day) still
binds while it has not passed; evidence handed in after it still counts until the publication day; and
the record is published on that day if the pledge is not fulfilled by then. Deadlines are written so that
"9月29日前" cannot be read as "before the 29th", and the rejection's reason is closed before the next
sentence."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.main import create_app
from models.clock import Clock
from models.lifecycle import Role
from models.outbox import Notification
from models.publication import sweep
from models.workflow import Actor
from notifications.render import render
from notifications.sms import render_sms
from tests.conftest import Staff
from tests.web_support import CSRF_FIELD, csrf_of, post_form

API = "/api/v1"
PDF = b"%PDF-1.7\n% evidence\n"
SYSTEM = Actor(name="sys", role=Role.SYSTEM)
DEADLINE = dt.date(2026, 9, 29)
PUBLICATION_DAY = dt.date(2026, 10, 14)  # the 7th working day after the deadline (National Day between)


def app_at(engine: Engine, day: dt.date) -> TestClient:
    return TestClient(
        create_app(
            engine=engine, clock=Clock(tz=Clock.from_settings().tz, pinned_today=day), check_schema=False
        )
    )


def register(c: TestClient, staff: Staff) -> dict[str, Any]:
    body = {
        "pledgor_kind": "enterprise", "pledgor_name": "甲建设有限公司",
        "pledgor_credit_code": "91440300708461136T", "pledgor_email": "a@example.com",
        "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书",
        "deadline": DEADLINE.isoformat(), "authority_code": "D01",
    }  # fmt: skip
    r = c.post(f"{API}/pledges", json=body, headers=staff.auth("handler"))
    assert r.status_code == 201, r.text
    assert r.json()["publication_day"] == PUBLICATION_DAY.isoformat()
    return dict(r.json())


def upload(c: TestClient, created: dict[str, Any]) -> None:
    token = csrf_of(c, f"/pledges/evidence?number={created['number']}")
    r = c.post(
        "/pledges/evidence",
        data={CSRF_FIELD: token, "number": created["number"], "access_code": created["access_code"]},
        files={"file": ("合格书.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 201, r.text


def send_back(c: TestClient, staff: Staff, created: dict[str, Any], reason: str) -> None:
    r = c.post(
        f"{API}/pledges/{created['id']}/actions/reject_evidence", json={"reason": reason},
        headers=staff.auth("handler"),
    )  # fmt: skip
    assert r.status_code == 200, r.text


def resubmit_line(c: TestClient, created: dict[str, Any]) -> str:
    r = post_form(c, "/pledges/status", {"number": created["number"], "access_code": created["access_code"]})
    assert r.status_code == 200, r.text
    m = re.search(r'<dd id="resubmit-by">(.*?)</dd>', r.text, re.S)
    assert m is not None, r.text
    return re.sub(r"<[^>]+>", "", m.group(1))


def mails(session: Session, pledge_id: int, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_id == pledge_id, Notification.template == template)
    return list(session.exec(stmt.where(Notification.case_kind == "pledge").order_by(col(Notification.id))))


def test_a_send_back_before_the_deadline_keeps_the_deadline_and_names_the_publication_day(
    engine: Engine, session: Session, staff: Staff
) -> None:
    created = register(app_at(engine, dt.date(2026, 9, 1)), staff)
    upload(app_at(engine, dt.date(2026, 9, 10)), created)
    c = app_at(engine, dt.date(2026, 9, 15))
    send_back(c, staff, created, "合格书缺少审查机构盖章")

    line = resubmit_line(c, created)
    assert "请于履约期限2026年9月29日24时前补正后重新提交" in line
    assert "期限届满仍未履行的，即为逾期" in line
    assert "逾期后，2026年10月14日零时前补交的材料仍予核查，核查期间暂缓公示，经确认的不予公示" in line
    assert "请于2026年10月14日零时前" not in line  # the publication day is no resubmission deadline

    [row] = mails(session, created["id"], "pledge_evidence_rejected")
    assert row.context["deadline_passed"] is False
    text = render("pledge_evidence_rejected", row.context).text
    assert "约定于2026年9月29日24时前补交施工图审查合格书" in text
    assert "理由：合格书缺少审查机构盖章。\n" in text  # closed before the next paragraph
    assert "请按上述理由补正后，于履约期限2026年9月29日24时前重新提交" in text
    assert "逾期后，2026年10月14日零时前补交的材料仍予核查" in text
    assert "相关信息将于该日推送至信用信息平台依法公示" in text
    # The SMS (to a pledgor reached by text) names the deadline too, not the publication day.
    sms = render_sms("pledge_evidence_rejected", row.context)
    assert "于2026-09-29 24时前（最迟2026-10-14零时前）补正提交" in sms

    # The deadline passes without new evidence: the overdue notice is the same story, not a contradiction.
    sweep(engine=engine, today=dt.date(2026, 9, 30), actor=SYSTEM)
    [overdue] = mails(session, created["id"], "pledge_overdue")
    told = render("pledge_overdue", overdue.context)
    assert "约定于2026年9月29日24时前补交" in told.text
    assert "2026年10月14日零时前仍未履行的" in told.text
    assert "日前" not in told.text.replace("24时前", "").replace("零时前", "")
    # And the status page, read after the deadline, now names the publication day as the last chance.
    after = resubmit_line(app_at(engine, dt.date(2026, 9, 30)), created)
    assert "履约期限（2026年9月29日24时）已过，请于2026年10月14日零时前（公示日当天零时起即予公示）" in after


def test_a_send_back_after_the_deadline_names_the_publication_day(
    engine: Engine, session: Session, staff: Staff
) -> None:
    created = register(app_at(engine, dt.date(2026, 9, 1)), staff)
    upload(app_at(engine, dt.date(2026, 9, 28)), created)  # on time: publication waits for the review
    c = app_at(engine, dt.date(2026, 10, 9))
    send_back(c, staff, created, "合格书页码不全！")

    line = resubmit_line(c, created)
    assert "履约期限（2026年9月29日24时）已过" in line
    assert "请于2026年10月14日零时前（公示日当天零时起即予公示）补正后重新提交" in line

    [row] = mails(session, created["id"], "pledge_evidence_rejected")
    assert row.context["deadline_passed"] is True
    text = render("pledge_evidence_rejected", row.context).text
    assert "理由：合格书页码不全！\n" in text  # the reason's own punctuation is kept, none added
    assert "履约期限（2026年9月29日24时）已过，该承诺已逾期" in text
    assert "2026年10月14日零时前补交的材料仍予核查" in text
    assert "于履约期限" not in text
    assert "于2026-10-14零时前补正提交" in render_sms("pledge_evidence_rejected", row.context)


def test_under_the_publish_on_day_rule_late_evidence_must_be_confirmed_by_the_day(
    engine: Engine, session: Session, staff: Staff, monkeypatch: Any
) -> None:
    from models.settings import get_settings

    monkeypatch.setenv("SHOUXIN_PLEDGE_LATE_EVIDENCE_RULE", "publish_on_day")
    get_settings.cache_clear()
    try:
        created = register(app_at(engine, dt.date(2026, 9, 1)), staff)
        upload(app_at(engine, dt.date(2026, 9, 10)), created)
        c = app_at(engine, dt.date(2026, 9, 15))
        send_back(c, staff, created, "不清晰")
        line = resubmit_line(c, created)
        assert "逾期后，须于2026年10月14日零时前补交并经审批部门确认，方不予公示" in line
        [row] = mails(session, created["id"], "pledge_evidence_rejected")
        assert (
            "须于2026年10月14日零时前补交并经审批部门确认，方不予公示"
            in render("pledge_evidence_rejected", row.context).text
        )
    finally:
        get_settings.cache_clear()


def test_a_rejection_mail_queued_before_the_new_keys_still_renders() -> None:
    queued = {
        "pledge_number": "CN-2026-000005", "pledgor_name": "甲建设有限公司", "matter": "建筑工程施工许可证",
        "obligation": "施工图审查合格书", "deadline": "2026-09-29", "reason": "不清晰",
        "publication_day": "2026-10-14", "rescheduled": False,
    }  # fmt: skip
    text = render("pledge_evidence_rejected", queued).text
    assert "约定于2026年9月29日24时前补交" in text
    assert "理由：不清晰。" in text

"""The subject of a pledge's breach record hears of its objection and repair request as the pledgor hears of
its pledge (issue 17): received and decided by SMS when it has only a mobile, by both with an e-mail address
too; a mobile given on the objection or repair form (API, multipart API, page) is texted instead of the
pledge's phone, and a landline or mistyped number there is refused before anything is filed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.main import create_app
from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.calendar import load_calendar
from models.lifecycle import BreachState
from models.outbox import Notification
from models.pledge import PledgeCreate, PledgorKind
from models.pledges import register_pledge_with_code
from models.publication import sweep
from models.register.decisions import SMS_RESULTS
from models.settings import get_settings
from models.workflow import Actor
from notifications.catalogue import sms_sample
from notifications.render import render
from notifications.sms import render_sms
from tests.conftest import Staff
from tests.test_pledgor_phone import SUPERVISOR
from tests.web_support import post_form, sign_in

API = "/api/v1"
MOBILE = "13812345678"
GIVEN = "+86 139 0000 1111"
NAME = "钱七建设有限公司"
REASON = "已按期提交合格书"


@pytest.fixture
def sms_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    get_settings.cache_clear()


def published(
    engine: Engine, session: Session, *, email: str | None, phone: str | None
) -> tuple[PublishedBreach, str]:
    """The record of a pledge of the given contacts, left unfulfilled and published by the sweep on
    2026-02-28, with the pledge's access code."""
    data = PledgeCreate(
        pledgor_kind=PledgorKind.INDIVIDUAL,
        pledgor_name=NAME,
        pledgor_email=email,
        pledgor_phone=phone,
        matter="建筑工程施工许可证",
        obligation="施工图审查合格书",
        deadline=dt.date(2026, 2, 12),
        authority_code="D01",
    )
    calendar = load_calendar(session=session)
    _, code = register_pledge_with_code(
        session=session, data=data, actor=SUPERVISOR, today=dt.date(2026, 1, 5), calendar=calendar
    )
    session.commit()
    sweep(engine=engine, today=dt.date(2026, 2, 28), actor=Actor.system("r"))
    session.expire_all()
    return session.exec(select(PublishedBreach)).one(), code


def rows(
    session: Session, record: PublishedBreach, template: str
) -> list[tuple[str, str | None, str | None]]:
    """(channel, e-mail, phone) of the record's outbox rows of ``template``, in order."""
    session.expire_all()
    found = session.exec(
        select(Notification)
        .where(Notification.case_kind == "breach", Notification.case_id == record.id)
        .where(Notification.template == template)
        .order_by(col(Notification.id))
    ).all()
    return [(n.channel, n.recipient_email, n.recipient_phone) for n in found]


def sms_text(session: Session, record: PublishedBreach, template: str) -> str:
    session.expire_all()
    row = session.exec(
        select(Notification).where(
            Notification.case_id == record.id,
            Notification.template == template,
            Notification.channel == "sms",
        )
    ).one()
    text = render_sms(template, row.context)
    assert record.number in text
    assert NAME not in text  # no names in a text message
    assert REASON not in text  # nor the subject's or the department's reasons
    return text


def decide(client: TestClient, staff: Staff, record: PublishedBreach, action: str, **body: Any) -> None:
    r = client.post(
        f"{API}/breaches/{record.id}/actions/{action}",
        json={"reason": REASON, **body},
        headers=staff.auth("handler"),
    )
    assert r.status_code == 200, r.text


def test_a_mobile_only_subject_is_texted_that_its_objection_was_received_and_rejected(
    client: TestClient, engine: Engine, session: Session, staff: Staff, sms_on: None
) -> None:
    record, code = published(engine, session, email=None, phone=MOBILE)
    r = client.post(
        f"{API}/public/breaches/{record.number}/objection",
        json={"access_code": code, "reason": REASON},
    )
    assert r.status_code == 201, r.text
    assert rows(session, record, "objection_received") == [("sms", None, MOBILE)]
    assert "5个工作日内答复" in sms_text(session, record, "objection_received")
    decide(client, staff, record, "reject_objection")
    assert rows(session, record, "objection_decision") == [("sms", None, MOBILE)]
    assert "异议不成立，维持原公示" in sms_text(session, record, "objection_decision")


def test_a_subject_with_both_gets_each_notice_by_mail_and_by_sms(
    client: TestClient, engine: Engine, session: Session, staff: Staff, sms_on: None
) -> None:
    record, code = published(engine, session, email="q@example.com", phone=MOBILE)
    r = client.post(
        f"{API}/public/breaches/{record.number}/objection",
        json={"access_code": code, "reason": REASON},
    )
    assert r.status_code == 201, r.text
    decide(client, staff, record, "uphold_correct", corrected={"severity": "minor"})
    for template in ("objection_received", "objection_decision"):
        assert rows(session, record, template) == [("email", "q@example.com", None), ("sms", None, MOBILE)]
    # Corrected to 轻微: kept but no longer published, which "已更正" alone would not say.
    assert "异议成立，改轻微不予公示" in sms_text(session, record, "objection_decision")
    # The mail is the one it always was, with the reason the SMS leaves out.
    mail = session.exec(
        select(Notification).where(
            Notification.template == "objection_decision", Notification.channel == "email"
        )
    ).one()
    assert REASON in render("objection_decision", mail.context).text


def test_a_mobile_given_on_the_objection_page_is_texted_the_acknowledgement_and_the_decision(
    client: TestClient, engine: Engine, session: Session, staff: Staff, sms_on: None
) -> None:
    record, code = published(engine, session, email="q@example.com", phone=None)
    form = {"access_code": code, "reason": REASON, "phone": GIVEN}
    assert 'name="phone" type="tel"' in client.get(f"/register/{record.number}/objection").text
    page = post_form(client, f"/register/{record.number}/objection", form)
    assert page.status_code == 303, page.text
    given = ("sms", None, "13900001111")
    assert rows(session, record, "objection_received") == [("email", "q@example.com", None), given]
    decide(client, staff, record, "uphold_withdraw")
    assert rows(session, record, "objection_decision") == [("email", "q@example.com", None), given]
    assert "异议成立，记录已撤销" in sms_text(session, record, "objection_decision")


def test_a_mobile_given_with_an_objection_replaces_the_pledges_phone_for_its_notices(
    client: TestClient, engine: Engine, session: Session, staff: Staff, sms_on: None
) -> None:
    record, code = published(engine, session, email=None, phone="0571-87654321")
    r = client.post(
        f"{API}/public/breaches/{record.number}/objection/with-files",
        data={"access_code": code, "reason": REASON, "phone": GIVEN},
        files=[("files", ("回执.pdf", b"%PDF-1.7\n%x\n"))],
    )
    assert r.status_code == 201, r.text
    # The authority's landline would be undeliverable; the mobile given with the objection is texted.
    assert rows(session, record, "objection_received") == [("sms", None, "13900001111")]


@pytest.mark.parametrize("phone", ["0571-87654321", "1381234567", "电话"])
def test_a_landline_or_mistyped_mobile_on_the_form_is_refused_and_nothing_is_filed(
    client: TestClient, engine: Engine, session: Session, staff: Staff, phone: str
) -> None:
    record, code = published(engine, session, email="q@example.com", phone=None)
    body = {"access_code": code, "reason": REASON, "phone": phone}
    r = client.post(f"{API}/public/breaches/{record.number}/objection", json=body)
    assert r.status_code == 422
    assert r.json()["field"] == "phone"
    assert "11 位手机号码" in r.json()["message"]
    page = post_form(client, f"/register/{record.number}/objection", body)
    assert page.status_code == 422
    assert f"手机号码“{phone}”格式不正确" in page.text
    assert "(not a mobile number)" not in page.text  # the public reads Chinese only
    assert f'value="{phone}"' in page.text  # the form keeps what was typed
    session.expire_all()
    assert session.get(PublishedBreach, record.id).state == BreachState.PUBLISHED  # type: ignore[union-attr]
    assert rows(session, record, "objection_received") == []


def test_a_repair_request_is_acknowledged_and_decided_by_sms_to_the_mobile_given_or_the_pledges(
    engine: Engine, session: Session, staff: Staff, clock: Any, sms_on: None
) -> None:
    record, code = published(engine, session, email=None, phone=MOBILE)
    body = {
        "access_code": code,
        "statement": "已补交合格书",
        "repair_pledge": "今后按期履约",
    }
    later = type(clock)(tz=clock.tz, pinned_today=dt.date(2026, 6, 1))
    with TestClient(create_app(engine=engine, clock=later, check_schema=False)) as c:
        refused = c.post(
            f"{API}/public/breaches/{record.number}/repair", json={**body, "phone": "010-12345678"}
        )
        assert refused.status_code == 422
        r = c.post(f"{API}/public/breaches/{record.number}/repair", json=body)
        assert r.status_code == 201, r.text
        assert rows(session, record, "repair_received") == [("sms", None, MOBILE)]
        assert "3个工作日内决定" in sms_text(session, record, "repair_received")
        decide(c, staff, record, "reject_repair")
        assert rows(session, record, "repair_decision") == [("sms", None, MOBILE)]
        assert "不予修复，记录继续公示" in sms_text(session, record, "repair_decision")
        # A second request, with a mobile given on the page: its notices go there.
        page = post_form(c, f"/register/{record.number}/repair", {**body, "phone": GIVEN})
        assert page.status_code == 303, page.text
        session.expire_all()
        event = session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_kind == "breach", CaseEvent.event == "request_repair")
            .order_by(col(CaseEvent.seq).desc())
        ).first()
        assert event is not None
        assert event.data["phone"] == "13900001111"
        decide(c, staff, record, "approve_repair")
    assert rows(session, record, "repair_received")[-1] == ("sms", None, "13900001111")
    assert rows(session, record, "repair_decision")[-1] == ("sms", None, "13900001111")
    assert "予以修复，记录已停止公示" in sms_text_last(session, record, "repair_decision")


def sms_text_last(session: Session, record: PublishedBreach, template: str) -> str:
    row = session.exec(
        select(Notification)
        .where(
            Notification.case_id == record.id,
            Notification.template == template,
            Notification.channel == "sms",
        )
        .order_by(col(Notification.id).desc())
    ).first()
    assert row is not None
    return render_sms(template, row.context)


@pytest.mark.parametrize("action", sorted(SMS_RESULTS))
def test_every_decision_outcome_fits_one_sms(action: str) -> None:
    template = "repair_decision" if action.endswith("_repair") else "objection_decision"
    text = render_sms(template, {**sms_sample(template), "result": SMS_RESULTS[action]})
    assert SMS_RESULTS[action] in text
    assert len("【守信平台】" + text) <= 70


def test_whoever_decides_sees_the_mobile_given_with_the_objection(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    record, code = published(engine, session, email=None, phone=None)
    body = {"access_code": code, "reason": REASON, "phone": GIVEN}
    assert client.post(f"{API}/public/breaches/{record.number}/objection", json=body).status_code == 201
    [item] = client.get(f"{API}/breaches", headers=staff.auth("handler")).json()
    assert item["request_phone"] == "13900001111"
    client.cookies.clear()
    sign_in(client, staff.handler)
    page = client.get(f"/staff/breaches/{record.id}").text
    assert '<dd id="request-phone">13900001111</dd>' in page

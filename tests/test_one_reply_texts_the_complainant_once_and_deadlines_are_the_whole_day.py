"""What the complainant and the pledgor are texted agrees with the rulebook and with their mails: one reply
is one SMS (answered, a return visit follows, dissatisfaction is voiced at it), a pledge is due by 24:00 of
its deadline day in the SMS and in the published record's facts as in the registration mail, a
published record's SMS says repair comes after the minimum period, and the outcome phrase of a correction
to 轻微 is as short as the other phrases. Lengths are checked with the longest numbers a year can reach."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.complaint import Complaint
from models.outbox import Channel, Notification
from models.register.decisions import SMS_RESULTS
from models.settings import get_settings
from notifications.catalogue import sms_sample
from notifications.render import render
from notifications.sms import approval_text, render_sms
from tests.conftest import Staff
from tests.test_complaints_api import act, dispatched_and_signed
from tests.test_register import publish

SIGNATURE = "【守信平台】"
# The longest numbers and codes of a year (models/numbering.py: a seventh digit after 999999).
LONGEST = {
    "case_number": "TS-2026-1000000",
    "pledge_number": "CN-2026-1000000",
    "record_number": "GS-2026-1000000",
    "target_number": "TS-2026-1000000",
    "access_code": "K7QM-2XRT-9PWD",
    "deadline": "2026-12-09",
}


@pytest.fixture
def sms_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    get_settings.cache_clear()


def _longest(name: str) -> str:
    sample = sms_sample(name)
    return render_sms(name, {**sample, **{k: v for k, v in LONGEST.items() if k in sample}})


def test_a_reply_texts_its_complainant_once_and_mails_the_reply(
    client: TestClient, staff: Staff, session: Session, sms_on: None
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_untrue", explanation="款项已按合同约定支付")
    act(client, staff, "handler", cid, "reply", reply_text="款项已按合同约定支付，特此说明。")
    session.expire_all()
    rows = session.exec(
        select(Notification)
        .where(
            Notification.case_id == cid,
            col(Notification.template).in_(("complaint_replied", "complaint_return_visit")),
        )
        .order_by(col(Notification.id))
    ).all()
    texts = [r for r in rows if r.channel == Channel.SMS]
    assert [r.template for r in texts] == ["complaint_return_visit"]
    # The reply's own text still reaches the complainant, by mail.
    assert sorted(r.template for r in rows if r.channel == Channel.EMAIL) == [
        "complaint_replied",
        "complaint_return_visit",
    ]
    text = render_sms("complaint_return_visit", sms_sample("complaint_return_visit"))
    assert "办理完毕" not in text
    assert "12345" not in text
    assert "回访时提出" in text  # where to complain
    assert "查看" in text  # where the reply is read


def test_a_complainant_with_a_mobile_only_is_texted_once_and_left_no_undeliverable_reply(
    client: TestClient, staff: Staff, session: Session, sms_on: None
) -> None:
    cid = dispatched_and_signed(client, staff)
    case = session.get(Complaint, cid)
    assert case is not None
    case.complainant_email = None
    session.add(case)
    session.commit()
    act(client, staff, "competent", cid, "verify_untrue", explanation="款项已按合同约定支付")
    act(client, staff, "handler", cid, "reply", reply_text="款项已按合同约定支付，特此说明。")
    session.expire_all()
    rows = session.exec(
        select(Notification).where(
            Notification.case_id == cid,
            col(Notification.template).in_(("complaint_replied", "complaint_return_visit")),
        )
    ).all()
    assert [(r.template, r.channel) for r in rows] == [("complaint_return_visit", Channel.SMS)]


def test_the_registration_sms_states_the_deadline_to_the_end_of_its_day() -> None:
    text = _longest("pledge_registered")
    assert "2026-12-09当日内提交" in text
    assert "2026-12-09前" not in text
    # The mail says the same: by 24:00 of that day.
    assert "24时前" in render("pledge_registered", sms_sample("pledge_registered")).text


def test_a_published_records_facts_state_the_deadline_to_the_end_of_its_day(
    engine: Engine, session: Session, staff: Staff
) -> None:
    # tests.test_register.publish registers each pledge with this deadline, then runs the sweep.
    [record] = publish(engine, session, ("示范建设有限公司", None))
    assert f"承诺于 {dt.date(2026, 2, 12).isoformat()} 24时前提交" in record.facts


def test_the_published_sms_says_repair_waits_for_the_minimum_period() -> None:
    for name in ("pledge_published", "pledge_false_recorded"):
        text = _longest(name)
        assert "异议" in text
        assert "最短公示期满后" in text, name
        assert "或信用修复" not in text


@pytest.mark.parametrize(
    "name", ["pledge_registered", "pledge_published", "pledge_false_recorded", "complaint_return_visit"]
)
def test_the_changed_texts_fit_one_sms_with_the_longest_numbers(name: str) -> None:
    assert len(SIGNATURE + _longest(name)) <= 70


def test_every_outcome_phrase_is_at_most_twelve_characters_and_listed_for_approval() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "integrations.md").read_text(encoding="utf-8")
    for phrase in SMS_RESULTS.values():
        assert len(phrase) <= 12, phrase
        assert phrase in docs, phrase
    assert "不予公示" in SMS_RESULTS["uphold_correct_minor"]
    assert approval_text("objection_decision").count("${result}") == 1

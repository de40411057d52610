"""Which channels a notice goes by (e-mail, SMS or both), mobile numbers, and the SMS texts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest
from sqlmodel import Session, select

from models.clock import utcnow
from models.outbox import (
    NO_EMAIL,
    NO_SMS_TEXT,
    NOT_A_MOBILE,
    SMS_OFF,
    SMS_TEMPLATES,
    Notification,
    NotificationStatus,
    enqueue,
    mobile_number,
    outbox_rows,
)
from models.settings import get_settings
from notifications.catalogue import TEMPLATES, sms_sample
from notifications.render import TEMPLATE_DIR
from notifications.sms import approval_text, render_sms, sms_params, sms_variables

MOBILE = "138 1234 5678"
LANDLINE = "0571-87654321"


@pytest.fixture
def sms_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    get_settings.cache_clear()


def _rows(
    email: str | None, phone: str | None, *, kind: str = "complainant", template: str = "complaint_received"
) -> list[dict[str, Any]]:
    return outbox_rows(
        template=template,
        recipient_kind=kind,
        recipient_name="张三",
        recipient_email=email,
        recipient_phone=phone,
        key="complaint:1:1:complaint_received:complainant",
        context={"case_number": "TS20260302-0001", "access_code": "K7QM"},
        now=utcnow(),
    )


def _shape(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (r["channel"], r["status"], r["recipient_email"], r["recipient_phone"], r["last_error"]) for r in rows
    ]


# ------------------------------------------------------------------------------------ mobile numbers


@pytest.mark.parametrize(
    ("written", "number"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8619912345678", "19912345678"),
        ("008613012345678", "13012345678"),
        ("0571-87654321", None),  # a landline
        ("(010)12345678", None),
        ("12812345678", None),  # no mainland mobile prefix starts 12
        ("1381234567", None),  # 10 digits
        ("138123456789", None),  # 12 digits
        ("8613812345678", None),  # a country code is written +86 or 0086
        ("12345", None),
        ("", None),
        (None, None),
    ],
)
def test_only_mainland_mobile_numbers_are_texted(written: str | None, number: str | None) -> None:
    assert mobile_number(written) == number


# -------------------------------------------------------------------------------------- channels


def test_a_complainant_with_only_a_mobile_number_is_texted(sms_on: None) -> None:
    (row,) = _rows(None, MOBILE)
    assert _shape([row]) == [("sms", NotificationStatus.PENDING, None, "13812345678", None)]
    assert row["idempotency_key"] == "complaint:1:1:complaint_received:complainant:sms"
    assert row["context"]["access_code"] == "K7QM"  # still to be sent, so kept


def test_a_complainant_with_both_gets_both_by_default_one_row_per_channel(sms_on: None) -> None:
    email, sms = _rows("z@example.com", MOBILE)
    assert (email["channel"], email["recipient_email"], email["recipient_phone"]) == (
        "email",
        "z@example.com",
        None,
    )
    assert (sms["channel"], sms["recipient_email"], sms["recipient_phone"]) == ("sms", None, "13812345678")
    # The e-mail row keeps the decision's key as before; the SMS row's is suffixed per channel.
    assert email["idempotency_key"] == "complaint:1:1:complaint_received:complainant"
    assert sms["idempotency_key"] == email["idempotency_key"] + ":sms"


def test_the_setting_decides_for_a_recipient_with_both(sms_on: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Departments are mailed by default even when a phone is known.
    assert [r["channel"] for r in _rows("d@example.com", MOBILE, kind="department")] == ["email"]
    monkeypatch.setenv("SHOUXIN_NOTIFICATION_CHANNELS", '{"complainant": "sms", "department": "both"}')
    get_settings.cache_clear()
    assert [r["channel"] for r in _rows("z@example.com", MOBILE)] == ["sms"]
    assert [r["channel"] for r in _rows("d@example.com", MOBILE, kind="department")] == ["email", "sms"]
    # A notice with no SMS text (the department's dispatch order) is mailed whatever the setting.
    dispatched = _rows("d@example.com", MOBILE, kind="department", template="complaint_dispatched")
    assert [r["channel"] for r in dispatched] == ["email"]
    # The setting chooses between channels a recipient has; it never leaves one with a single channel out.
    assert [r["channel"] for r in _rows("z@example.com", None)] == ["email"]


def test_a_landline_is_kept_but_not_texted(sms_on: None) -> None:
    (row,) = _rows(None, LANDLINE)
    assert _shape([row]) == [("sms", NotificationStatus.UNDELIVERABLE, None, LANDLINE, NOT_A_MOBILE)]
    assert "access_code" not in row["context"]  # never sent, so the secret is not stored
    # With an e-mail address as well, the mail goes and nothing pretends the landline was texted.
    assert _shape(_rows("z@example.com", LANDLINE)) == [
        ("email", NotificationStatus.PENDING, "z@example.com", None, None)
    ]


def test_without_an_sms_provider_a_mobile_only_recipient_is_undeliverable_with_the_reason() -> None:
    assert _shape(_rows(None, MOBILE)) == [("email", NotificationStatus.UNDELIVERABLE, None, MOBILE, SMS_OFF)]
    # And a recipient with both is mailed only, exactly as before SMS existed.
    assert _shape(_rows("z@example.com", MOBILE)) == [
        ("email", NotificationStatus.PENDING, "z@example.com", None, None)
    ]


def test_a_notice_without_an_sms_text_is_not_texted(sms_on: None) -> None:
    (row,) = _rows(None, MOBILE, kind="department", template="breach_request_received")
    assert _shape([row]) == [("email", NotificationStatus.UNDELIVERABLE, None, MOBILE, NO_SMS_TEXT)]
    assert _shape(_rows(None, None)) == [("email", NotificationStatus.UNDELIVERABLE, None, None, NO_EMAIL)]


def test_enqueue_writes_one_row_per_channel_and_a_repeat_of_the_decision_queues_nothing_new(
    session: Session, sms_on: None
) -> None:
    common: dict[str, Any] = {
        "template": "complaint_replied",
        "recipient_kind": "complainant",
        "recipient_name": "张三",
        "context": dict(TEMPLATES["complaint_replied"].sample),
        "case_kind": "complaint",
        "case_number": "TS20260302-0001",
    }
    first = enqueue(
        session=session, recipient_email="z@example.com", recipient_phone=MOBILE, key="k:1", **common
    )
    session.commit()
    rows = list(session.exec(select(Notification).order_by(Notification.id)))  # type: ignore[arg-type]
    assert [(r.id, r.channel, r.idempotency_key) for r in rows] == [
        (first, "email", "k:1"),
        (first + 1, "sms", "k:1:sms"),
    ]
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError):
        enqueue(session=session, recipient_email="z@example.com", recipient_phone=MOBILE, key="k:1", **common)
    session.rollback()


# ------------------------------------------------------------------------------------------ texts


def test_the_sms_texts_are_the_notices_listed_as_having_one() -> None:
    files = {path.name.removesuffix(".sms.j2") for path in Path(TEMPLATE_DIR).glob("*.sms.j2")}
    assert files == SMS_TEMPLATES
    assert SMS_TEMPLATES <= set(TEMPLATES)


# The case's number (a complaint's, a pledge's or a breach record's) and what else an SMS may state: dates,
# a record number, the recipient's own access code and a decision's outcome as one of a fixed set of phrases
# (models.register.decisions.SMS_RESULTS); never a name, a matter, a reason or a file name.
NUMBER_KEYS = ("case_number", "pledge_number", "record_number")
SHOWN_KEYS = {
    *NUMBER_KEYS,
    "access_code",
    "deadline",
    "publication_day",
    "result",
    "resubmit_by",
    "target_number",
}


def number_key(name: str) -> str:
    return next(key for key in NUMBER_KEYS if key in sms_sample(name))


@pytest.mark.parametrize("name", sorted(SMS_TEMPLATES))
def test_every_sms_text_is_short_names_the_case_and_says_what_to_do(name: str) -> None:
    sample = sms_sample(name)
    text = render_sms(name, sample)
    assert "\n" not in text
    assert sample[number_key(name)] in text
    # What to do next.
    assert any(verb in text for verb in ("查询", "查看", "评价", "提交", "申请", "保管", "联系"))
    # Texted alone to a recipient with only a mobile, so it never points to a mail that may not exist.
    assert "邮件" not in text
    # One SMS: 70 characters with the 【守信平台】 signature the provider puts in front.
    assert len("【守信平台】" + text) <= 70
    # Nobody's personal data: not even the complainant's own name or the other side's details.
    for key, value in sample.items():
        if key not in SHOWN_KEYS and isinstance(value, str) and len(value) > 1:
            assert value not in text, key


def test_the_reply_sms_a_merged_complainant_also_gets_promises_no_return_visit() -> None:
    # One approved text for both: a complainant merged into the replied case is never visited.
    assert "回访" not in render_sms("complaint_replied", sms_sample("complaint_replied"))


@pytest.mark.parametrize("name", sorted(SMS_TEMPLATES))
def test_the_provider_fills_the_approved_template_into_the_same_text(name: str) -> None:
    sample = sms_sample(name)
    template = approval_text(name)
    assert "${" + number_key(name) + "}" in template
    filled = template
    for key, value in sms_params(name, sample).items():
        filled = filled.replace("${" + key + "}", value)
    assert filled == render_sms(name, sample)
    assert set(sms_params(name, sample)) == set(sms_variables(name))


def test_docs_list_every_sms_text_to_submit_for_approval_as_it_is() -> None:
    docs = (Path(__file__).parent.parent / "docs" / "integrations.md").read_text(encoding="utf-8")
    for name in sorted(SMS_TEMPLATES):
        assert f"| `{name}` | {approval_text(name)} |" in docs, name


@pytest.mark.parametrize("name", sorted(SMS_TEMPLATES))
def test_an_sms_text_missing_its_case_number_raises(name: str) -> None:
    context = {k: v for k, v in sms_sample(name).items() if k != number_key(name)}
    with pytest.raises(jinja2.UndefinedError):
        render_sms(name, context)
    with pytest.raises(jinja2.UndefinedError):
        sms_params(name, context)


def test_the_admin_notifications_page_shows_the_channel_and_the_landline_that_was_not_texted(
    session: Session, sms_on: None, client: Any, staff: Any
) -> None:
    from tests.web_support import sign_in

    common: dict[str, Any] = {
        "template": "complaint_received",
        "recipient_kind": "complainant",
        "recipient_email": None,
        "context": dict(TEMPLATES["complaint_received"].sample),
    }
    enqueue(session=session, recipient_name="李四", recipient_phone=MOBILE, key="page:1", **common)
    enqueue(session=session, recipient_name="王五", recipient_phone=LANDLINE, key="page:2", **common)
    session.commit()
    sign_in(client, staff.supervisor)
    page = client.get("/staff/admin/notifications").text
    pending = page.split('id="pending"', 1)[1].split("</table>", 1)[0]
    assert "李四 短信 13812345678" in pending
    undeliverable = page.split('id="undeliverable"', 1)[1].split("</table>", 1)[0]
    assert f"王五 短信 {LANDLINE}" in undeliverable
    assert "不是手机号码，不发送短信" in undeliverable


def test_an_http_gateway_without_its_secret_sends_nothing_rather_than_sign_with_an_empty_key() -> None:
    from models.settings import Settings
    from notifications.sms import provider_from_settings
    from notifications.sms_http import HttpGatewaySms

    unsigned = Settings(sms_provider="http", sms_gateway_url="http://127.0.0.1:9/sms")
    assert provider_from_settings(unsigned) is None  # its messages are answered NO_PROVIDER, never sent
    with pytest.raises(ValueError, match="SHOUXIN_SMS_GATEWAY_SECRET"):
        HttpGatewaySms(unsigned)
    signed = unsigned.model_copy(update={"sms_gateway_secret": "a-real-shared-secret-1"})
    assert isinstance(provider_from_settings(signed), HttpGatewaySms)

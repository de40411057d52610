"""Bidirectional controls (U+202A–U+202E, U+2066–U+2069) in typed text would reorder it on the staff pages
(a right-to-left override shows "凭证\u202egpj.exe" as "凭证exe.jpg"): models/text.py, the one cleaner of
typed text, drops them from every text (a staff form, the API, 12345's orders and follow-ups), and a text of
nothing else counts as empty, as one of zero-width characters does."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from models.complaint import Complaint
from models.text import clean_text, visible_text
from tests.conftest import Staff
from tests.test_complaints_api import API, BODY
from tests.test_hotline_intake import new_hotline_token
from tests.test_what_12345_forwards_after_an_order_reaches_the_case import (
    dispatched,
    follow,
    follow_up_events,
)

BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize("control", list(BIDI))
def test_each_bidirectional_control_is_dropped_and_alone_it_is_empty(control: str) -> None:
    assert clean_text(f"付款凭证{control}gpj.exe", multiline=False) == "付款凭证gpj.exe"
    assert clean_text(f"第一行{control}\n第二行", multiline=True) == "第一行\n第二行"
    assert clean_text(f" {control}\u200b ", multiline=False) == ""
    assert visible_text(f"尾款{control}未付") == "尾款未付"


def test_a_complaint_typed_with_an_override_is_stored_as_it_reads(
    client: TestClient, session: Session, staff: Staff
) -> None:
    body = {**BODY, "summary": "拖欠工程款\u202e未付", "attachments": ["付款凭证\u202egpj.exe"]}
    r = client.post(f"{API}/complaints", json=body, headers=staff.auth("intake"))
    assert r.status_code == 201, r.text
    case = session.get(Complaint, r.json()["id"])
    assert case is not None
    assert (case.summary, case.attachments) == ("拖欠工程款未付", ["付款凭证gpj.exe"])

    blank = client.post(f"{API}/complaints", json={**BODY, "summary": BIDI}, headers=staff.auth("intake"))
    assert blank.status_code == 422, blank.text
    assert [f["field"] for f in blank.json()["fields"]] == ["summary"]


def test_a_12345_follow_up_with_an_override_is_recorded_without_it(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    cid = dispatched(client, staff, token)
    answer = follow(
        client, token, content="来电人补充\u202e：结算单已盖章\u202c。", attachments=["结算单\u2067.pdf"]
    )
    assert answer.status_code == 201, answer.text
    [event] = follow_up_events(session, cid)
    assert event.note == "来电人补充：结算单已盖章。"
    assert event.data["attachments"] == ["结算单.pdf"]
    # Cleaned before it is compared: a resend of the same call is the same follow-up.
    again = follow(client, token, content="来电人补充：结算单已盖章。", attachments=["结算单.pdf"])
    assert again.status_code == 200, again.text

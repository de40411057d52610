"""A record busy with another request takes no objection: its objection form says so plainly before
anything is typed, and a submission that arrives anyway gets the same sentence, not the lifecycle's
wording in staff terms. The form's rule for the reason is the API's: any reason that is not blank."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.breach import PublishedBreach
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import post_form

REPAIR_PENDING = "该记录的信用修复申请正在审查，审查期间不能提出异议"
INTERNAL = ("当前可执行", "不能执行")


def _state(session: Session, breach: PublishedBreach) -> str:
    session.expire_all()
    record = session.get(PublishedBreach, breach.id)
    assert record is not None
    return str(record.state)


def _repair_requested(client: TestClient, engine: Engine, session: Session) -> tuple[PublishedBreach, str]:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    with engine.begin() as conn:
        conn.execute(update(PublishedBreach).values(repair_earliest=dt.date(2026, 1, 1)))
    code = access_code(session, breach)
    form = {"access_code": code, "statement": "已补交审查合格书", "repair_pledge": "今后按期履行承诺"}
    filed = post_form(client, f"/register/{breach.number}/repair", form)
    assert filed.status_code == 303, filed.text[:500]
    assert _state(session, breach) == "repair_requested"
    return breach, code


def test_the_objection_form_says_why_while_a_repair_request_is_pending(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    breach, _ = _repair_requested(client, engine, session)
    page = client.get(f"/register/{breach.number}/objection")
    assert page.status_code == 200
    assert REPAIR_PENDING in page.text
    assert "不予修复的，届时可再对记录提出异议" in page.text
    assert 'name="reason"' not in page.text  # the form is not offered
    assert not any(words in page.text for words in INTERNAL)


def test_an_objection_that_races_into_a_pending_repair_gets_the_same_sentence(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    breach, code = _repair_requested(client, engine, session)
    # The form is no longer offered: the submission comes from a page drawn before the repair request.
    form = {"access_code": code, "reason": "认定有误"}
    answer = post_form(client, f"/register/{breach.number}/objection", form, page="/pledges/evidence")
    assert answer.status_code == 409
    assert REPAIR_PENDING in answer.text
    assert not any(words in answer.text for words in INTERNAL)
    assert _state(session, breach) == "repair_requested"


def test_a_second_objection_is_answered_in_the_same_words_as_the_form(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    code = access_code(session, breach)
    page = f"/register/{breach.number}/objection"
    assert post_form(client, page, {"access_code": code, "reason": "认定有误"}).status_code == 303
    again = post_form(client, page, {"access_code": code, "reason": "再次异议"}, page="/pledges/evidence")
    assert again.status_code == 409
    assert "该记录的异议正在处理中，认定部门答复前不能再次提出异议" in again.text
    shown = client.get(page).text
    assert "该记录的异议正在处理中" in shown
    assert 'name="reason"' not in shown


def test_a_one_character_reason_is_accepted_on_the_form_as_by_the_api(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    code = access_code(session, breach)
    page = f"/register/{breach.number}/objection"
    blank = post_form(client, page, {"access_code": code, "reason": " \u200b "})
    assert blank.status_code == 422
    assert "请填写异议理由" in blank.text  # named at the field; the code was given
    assert "请填写办理码" not in blank.text
    assert "至少" not in blank.text
    answer = post_form(client, page, {"access_code": code, "reason": "错"})
    assert answer.status_code == 303, answer.text[:500]
    assert _state(session, breach) == "under_objection"

"""What the public side tells the complainant and the pledgor: the reply and the handling department on
tracking, the pledge's state by number and access code, the dates the objection and repair forms state
before they are filled, one objection at a time with new facts after a rejection, the acknowledgement of
an objection, and messages in Chinese only on the pages."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.outbox import Notification
from models.pledge import Pledge
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaints_api import API, act, register
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import post_form
from web.core import cn_date
from web.public import public_message


def test_tracking_shows_the_reply_and_the_handling_department(client: TestClient, staff: Staff) -> None:
    created = register(client, staff)
    cid = created["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    number, password = created["number"], created["tracking_password"]
    good = {"number": number, "password": password}
    before = client.post(f"{API}/public/complaints/track", json=good).json()
    assert before["department_name"] == "市住房和城乡建设局"
    assert before["reply_text"] is None
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同未约定该笔款项")
    act(client, staff, "handler", cid, "reply", reply_text="经核实，合同未约定该笔款项，特此答复。")
    after = client.post(f"{API}/public/complaints/track", json=good).json()
    assert after["reply_text"] == "经核实，合同未约定该笔款项，特此答复。"
    page = post_form(client, "/track", good)
    assert page.status_code == 200
    assert "办理部门：市住房和城乡建设局" in page.text
    assert "经核实，合同未约定该笔款项，特此答复。" in page.text


def test_pledgor_reads_the_pledge_state_with_number_and_access_code(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    pledge = session.get(Pledge, breach.pledge_id)
    assert pledge is not None
    code = access_code(session, breach)
    api = client.post(f"{API}/public/pledges/{pledge.number}/status", json={"access_code": code})
    assert api.status_code == 200, api.text
    data = api.json()
    assert (data["state_label"], data["record_number"], data["publication_day"]) == (
        "已公示失信",
        breach.number,
        None,
    )
    wrong = client.post(
        f"{API}/public/pledges/{pledge.number}/status", json={"access_code": "AAAA-BBBB-CCCC"}
    )
    assert wrong.status_code == 403
    # The pledgor's name and pledge, answered for the code: no browser or proxy keeps a copy.
    assert api.headers["cache-control"] == "no-store"
    page = post_form(client, "/pledges/status", {"number": pledge.number, "access_code": code})
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "已公示失信" in page.text
    assert breach.number in page.text
    assert code not in page.text
    refused = post_form(client, "/pledges/status", {"number": pledge.number, "access_code": "AAAA-BBBB-CCCC"})
    assert refused.status_code == 403
    assert "办理码不正确" in refused.text
    assert "wrong access code" not in refused.text  # the public reads Chinese only


def test_forms_state_the_reply_deadline_and_the_earliest_repair_day(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    objection = client.get(f"/register/{breach.number}/objection").text
    assert "5 个工作日内" in objection
    # Read before the objection is lodged: while it is pending the repair form is not offered.
    repair = client.get(f"/register/{breach.number}/repair").text
    earliest = breach.repair_earliest
    assert f'最早可于<time datetime="{earliest.isoformat()}">{cn_date(earliest)}</time>申请信用修复' in repair
    body = {"access_code": access_code(session, breach), "reason": "材料已于期限内补交"}
    lodged = client.post(f"{API}/public/breaches/{breach.number}/objection", json=body).json()
    reply_due = dt.date.fromisoformat(lodged["reply_due"])
    assert f'（<time datetime="{reply_due.isoformat()}">{cn_date(reply_due)}</time>前）答复' in objection


def test_an_objection_is_not_lodged_twice_and_needs_new_facts_after_a_rejection(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    url = f"{API}/public/breaches/{breach.number}/objection"
    first = {"access_code": access_code(session, breach), "reason": "材料已于期限内补交"}
    assert client.post(url, json=first).status_code == 201
    twice = client.post(url, json=first)
    assert twice.status_code == 409
    assert "异议正在处理中" in twice.json()["message"]
    rejected = client.post(
        f"{API}/breaches/{breach.id}/actions/reject_objection",
        json={"reason": "逾期属实"},
        headers=staff.auth("supervisor"),
    )
    assert rejected.status_code == 200, rejected.text
    again = client.post(url, json=first)
    assert again.status_code == 422
    assert "新的事实" in again.json()["message"]
    page = post_form(client, f"/register/{breach.number}/objection", first)
    assert page.status_code == 422
    assert "新的事实" in page.text
    assert "(a new objection" not in page.text
    same_words = client.post(url, json={**first, "evidence": ""})
    assert same_words.status_code == 422
    new_facts = {**first, "evidence": "审批部门 2026-02-10 出具的材料接收回执"}
    assert client.post(url, json=new_facts).status_code == 201


def test_lodging_an_objection_sends_an_acknowledgement(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    body = {"access_code": access_code(session, breach), "reason": "材料已于期限内补交"}
    answer = client.post(f"{API}/public/breaches/{breach.number}/objection", json=body).json()
    session.expire_all()
    [mail] = session.exec(
        select(Notification)
        .where(Notification.template == "objection_received")
        .order_by(col(Notification.id))
    ).all()
    pledge = session.get(Pledge, breach.pledge_id)
    assert pledge is not None
    assert mail.recipient_email == pledge.pledgor_email
    text = render("objection_received", mail.context).text
    assert breach.number in text
    assert "5 个工作日内" in text
    reply_due = dt.date.fromisoformat(answer["reply_due"])
    assert f"{reply_due.year}年{reply_due.month}月{reply_due.day}日前" in text
    assert "答复作出前不能就该记录再次提出异议" in text


def test_public_messages_drop_the_english_gloss() -> None:
    assert public_message("办理码不正确。办理码见告知书（邮件或书面告知书） (wrong access code)") == (
        "办理码不正确。办理码见告知书（邮件或书面告知书）"
    )
    assert public_message("请填写异议理由") == "请填写异议理由"


def test_a_public_page_that_cannot_find_its_record_answers_in_chinese_only(client: TestClient) -> None:
    # The page route's own error page (not a form's refusal) is public too: no "(no record …)" gloss.
    # (The objection and repair forms answer an unknown number as a record not shown: see
    # tests/test_minor_record_subject_acts_on_the_pages.py.)
    page = client.get("/register/GS-2026-999999")
    assert page.status_code == 404
    assert "公示记录 GS-2026-999999 不存在" in page.text
    assert "(no record" not in page.text

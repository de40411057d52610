"""The pledgor (or their lawyer) follows an objection or a repair request online with the pledge's number
and access code: the status answer, page and API alike, lists each request on the record with its state,
its due date while pending, and once decided the day, the outcome and the reason, worded as the decision
notice told them."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.outbox import Notification
from models.pledge import Pledge
from tests.conftest import Staff
from tests.test_complaints_api import API, set_today
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import post_form
from web.core import cn_date

REASON = "经核查，承诺人逾期未提交施工图审查合格书属实，维持原公示。"


def _status(client: TestClient, number: str, code: str) -> dict[str, object]:
    answer = client.post(f"{API}/public/pledges/{number}/status", json={"access_code": code})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_an_objection_is_followed_from_pending_to_its_decision_and_reason(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    pledge = session.get(Pledge, breach.pledge_id)
    assert pledge is not None
    code = access_code(session, breach)
    lodged = client.post(
        f"{API}/public/breaches/{breach.number}/objection",
        json={"access_code": code, "reason": "材料已于期限内补交"},
    )
    assert lodged.status_code == 201, lodged.text
    due = lodged.json()["reply_due"]
    [pending] = _status(client, pledge.number, code)["record_requests"]  # type: ignore[misc]
    assert (pending["kind"], pending["kind_label"], pending["pending"]) == ("objection", "异议", True)
    assert (pending["due"], pending["due_pending"], pending["outcome"]) == (due, False, None)
    page = post_form(client, "/pledges/status", {"number": pledge.number, "access_code": code}).text
    shown_due = f'<time datetime="{due}">{cn_date(dt.date.fromisoformat(due))}</time>'
    assert f'提出的异议：<span class="tag">处理中</span>，答复期限 {shown_due}' in page

    decided = client.post(
        f"{API}/breaches/{breach.id}/actions/reject_objection",
        json={"reason": f"  {REASON}  "},
        headers=staff.auth("supervisor"),
    )
    assert decided.status_code == 200, decided.text
    session.expire_all()
    mail = session.exec(select(Notification).where(Notification.template == "objection_decision")).first()
    assert mail is not None
    [done] = _status(client, pledge.number, code)["record_requests"]  # type: ignore[misc]
    assert done["pending"] is False
    assert done["due"] is None
    # The outcome and the reason as the decision notice gave them.
    assert (done["outcome"], done["reason"]) == (mail.context["result"], mail.context["reason"])
    assert done["outcome"] == "异议不成立，维持原公示"
    assert done["reason"] == REASON
    page = post_form(client, "/pledges/status", {"number": pledge.number, "access_code": code}).text
    assert "异议不成立，维持原公示" in page
    assert REASON in page
    assert "处理中" not in page


def test_a_repair_request_is_listed_after_the_rejected_objection(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    pledge = session.get(Pledge, breach.pledge_id)
    assert pledge is not None
    code = access_code(session, breach)
    assert (
        client.post(
            f"{API}/public/breaches/{breach.number}/objection",
            json={"access_code": code, "reason": "材料已于期限内补交"},
        ).status_code
        == 201
    )
    client.post(
        f"{API}/breaches/{breach.id}/actions/reject_objection",
        json={"reason": REASON},
        headers=staff.auth("supervisor"),
    )
    set_today(client, breach.repair_earliest)
    filed = client.post(
        f"{API}/public/breaches/{breach.number}/repair",
        json={"access_code": code, "statement": "已补交", "repair_pledge": "今后按期履约"},
    )
    assert filed.status_code == 201, filed.text
    objection, repair = _status(client, pledge.number, code)["record_requests"]  # type: ignore[misc]
    assert (objection["kind"], objection["pending"]) == ("objection", False)
    assert (repair["kind"], repair["pending"], repair["due"]) == (
        "repair",
        True,
        filed.json()["decision_due"],
    )
    decided = client.post(
        f"{API}/breaches/{breach.id}/actions/reject_repair",
        json={"reason": "尚未履行相关义务"},
        headers=staff.auth("handler"),
    )
    assert decided.status_code == 200, decided.text
    _, repair = _status(client, pledge.number, code)["record_requests"]  # type: ignore[misc]
    assert (repair["pending"], repair["outcome"], repair["reason"]) == (
        False,
        "不予修复，记录继续公示",
        "尚未履行相关义务",
    )

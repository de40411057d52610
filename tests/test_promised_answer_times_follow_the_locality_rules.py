"""Every promise of when an objection is answered or a repair request decided comes from the lifecycle's
rule as the locality configured it (SHOUXIN_DEADLINE_OVERRIDES) and, once a request is filed, from the
deadline stored on the record: the forms, the record's page after filing, the status answer and the API
documentation never state the shipped defaults as if they were the rule."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.pledge import Pledge
from models.pledges.self_service import pending_request, repair_decision_days, repair_decision_due
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_complaints_api import API, set_today
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import post_form
from web.core import cn_date, env


@pytest.fixture
def local_rules(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SHOUXIN_DEADLINE_OVERRIDES", '{"objection": 7, "repair": 4}')
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("SHOUXIN_DEADLINE_OVERRIDES")
    get_settings.cache_clear()


def _stored(session: Session, breach: PublishedBreach) -> PublishedBreach:
    session.expire_all()
    found = session.get(PublishedBreach, breach.id)
    assert found is not None
    return found


@pytest.mark.usefixtures("local_rules")
def test_the_record_page_after_an_objection_promises_no_default(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    form = client.get(f"/register/{breach.number}/objection").text
    assert "7 个工作日内" in form
    sent = post_form(
        client,
        f"/register/{breach.number}/objection",
        {"access_code": access_code(session, breach), "reason": "材料已于期限内补交"},
    )
    assert sent.status_code == 303, sent.text
    page = client.get(sent.headers["location"]).text
    assert "异议已提交" in page
    assert "5 个工作日" not in page
    stored = _stored(session, breach)
    assert stored.stage_deadline is not None
    # Given the pending request (models/pledges/self_service.py), the page states the stored day.
    pending = pending_request(stored)
    assert pending == {
        "kind": "objection",
        "working_days": 7,
        "due": stored.stage_deadline,
        "due_pending": False,
    }
    shown = _record_page(breach.number, objected=True, pending=pending)
    day = stored.stage_deadline
    assert (
        f'认定部门将在 7 个工作日内（<time datetime="{day.isoformat()}">{cn_date(day)}</time>前）答复'
        in shown
    )


@pytest.mark.usefixtures("local_rules")
def test_the_repair_form_and_the_page_after_a_request_state_the_rule_and_the_stored_day(
    client: TestClient, engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    today = breach.repair_earliest
    set_today(client, today)
    form = client.get(f"/register/{breach.number}/repair").text
    assert "3 个工作日" not in form
    due = repair_decision_due(calendar=calendar, today=today)
    assert repair_decision_days() == 4
    assert due == calendar.add_working_days(today, 4)
    # The form with the rule's dates (the page's context): the days and the due date, like the objection's.
    shown = _form("repair.html", breach, repair_days=repair_decision_days(), repair_due=due)
    assert f'将在 4 个工作日内（<time datetime="{due.isoformat()}">{cn_date(due)}</time>前）作出决定' in shown
    body = {
        "access_code": access_code(session, breach),
        "statement": "已补交",
        "repair_pledge": "今后按期履约",
    }
    answer = client.post(f"{API}/public/breaches/{breach.number}/repair", json=body)
    assert answer.status_code == 201, answer.text
    assert answer.json()["decision_due"] == due.isoformat()
    page = client.get(f"/register/{breach.number}?repair=1").text
    assert "信用修复申请已提交" in page
    assert "3 个工作日" not in page
    stored = _stored(session, breach)
    shown = _record_page(breach.number, repair=True, pending=pending_request(stored))
    assert (
        f'认定部门将在 4 个工作日内（<time datetime="{due.isoformat()}">{cn_date(due)}</time>前）作出决定'
        in shown
    )
    pledge = session.get(Pledge, breach.pledge_id)
    assert pledge is not None
    status = client.post(
        f"{API}/public/pledges/{pledge.number}/status", json={"access_code": access_code(session, breach)}
    ).json()
    [request] = status["record_requests"]
    assert (request["kind"], request["pending"], request["due"]) == ("repair", True, due.isoformat())


def test_the_api_documentation_names_the_rule_and_its_default(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    objection = paths["/api/v1/public/breaches/{number}/objection"]["post"]["description"]
    repair = paths["/api/v1/public/breaches/{number}/repair"]["post"]["description"]
    assert "按规定的工作日数（默认 5 个工作日）答复" in objection
    assert "按规定的工作日数（默认 3 个工作日）作出决定" in repair
    assert "5 个工作日内" not in objection
    assert "3 个工作日内" not in repair


def _record_page(number: str, *, objected: bool = False, repair: bool = False, **extra: Any) -> str:
    record = {
        "record_number": number, "XDR_MC": "示范建设有限公司", "XDR_LB": "法人及非法人组织",
        "XDR_SHXYM": CODE, "matter": "m", "facts": "f", "basis": "b", "severity_label": "一般",
        "department_name": "市住房和城乡建设局", "JDRQ": "2026-02-28", "GSJZQ": "2027-02-28",
        "state": "under_objection", "state_label": "异议处理中", "source_kind": "pledge",
    }  # fmt: skip
    return env.get_template("record.html").render(
        **_page(), title="t", record=record, offline_only=None, objected=objected, repair=repair, **extra
    )


def _form(template: str, breach: PublishedBreach, **extra: Any) -> str:
    record = {
        "record_number": breach.number, "XDR_MC": "示范建设有限公司", "matter": "m",
        "severity_label": "一般", "department_name": "市住房和城乡建设局",
    }  # fmt: skip
    return env.get_template(template).render(
        **_page(), title="t", record=record, unpublished=False, sent=False, offline_only=None, values={},
        error=None, upload_hint="h", reply_due=None, reply_days=7, repair_earliest=dt.date(2026, 5, 28),
        repair_open=True, repair_busy=None, **extra,
    )  # fmt: skip


def _page() -> dict[str, Any]:
    return {"request_path": "/", "user": None, "csrf_token": "x", "csrf_field": "csrf"}

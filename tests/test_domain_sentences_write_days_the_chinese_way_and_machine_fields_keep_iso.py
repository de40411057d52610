"""A day inside a Chinese sentence is written one way everywhere (2026年4月8日), by one formatter in the
domain (models/clock.py ``chinese_date``) that the pages' filter and the notices' filter both call: the
refusal of a repair request before the record's earliest day, the register's refusal of a date range
backwards, the review deadline on the pledgor's upload receipt and status page. Machine places keep ISO:
the English gloss and the ``repair_earliest`` detail of the refusal, the mail context, the resume event's
``old_deadline``."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import models.clock
import notifications.render
import web.core
from models.audit import CaseEvent
from models.clock import chinese_date
from models.errors import ValidationFailed
from models.register.requests import check_repair_open
from models.stage_deadline import PENDING_LABEL, deadline_text
from tests.conftest import Staff
from tests.test_complaints_api import act, dispatched_and_signed, set_today
from tests.test_pledgor_is_shown_and_told_the_truth import app_at, register, status_text, upload
from tests.test_publication import CODE
from tests.test_register import access_code, publish

UTC = dt.UTC
API = "/api/v1"


def test_one_formatter_writes_a_day_and_a_moment_as_its_beijing_day() -> None:
    assert chinese_date(dt.date(2027, 1, 14)) == "2027年1月14日"
    assert chinese_date(dt.datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "2027年1月1日"
    assert chinese_date(dt.datetime(2026, 12, 31, 15, 59, tzinfo=UTC)) == "2026年12月31日"
    with pytest.raises(ValidationFailed):
        chinese_date(dt.datetime(2026, 4, 7, 16, 30))  # no zone: refused, never guessed
    # The pages' and the notices' filters are that formatter, not copies of it.
    assert web.core.chinese_date is models.clock.chinese_date
    assert notifications.render.chinese_date is models.clock.chinese_date
    for value in (dt.date(2026, 3, 2), dt.datetime(2026, 3, 1, 20, 0, tzinfo=UTC)):
        assert web.core.cn_date(value) == notifications.render.cn_date(value) == chinese_date(value)


def test_a_repair_refused_before_the_earliest_day_names_it_in_chinese_and_keeps_iso_for_machines(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    assert staff.admin
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    earliest = breach.repair_earliest
    with pytest.raises(ValidationFailed) as refused:
        check_repair_open(breach, earliest - dt.timedelta(days=1))
    message = str(refused.value)
    assert f"该记录最早可于{chinese_date(earliest)}申请信用修复（最短公示期未满）" in message
    assert f"(repair not before {earliest.isoformat()})" in message
    assert refused.value.details["repair_earliest"] == earliest.isoformat()
    set_today(client, earliest - dt.timedelta(days=1))
    body = {
        "access_code": access_code(session, breach),
        "statement": "已补交",
        "repair_pledge": "今后按期履约",
    }
    answer = client.post(f"{API}/public/breaches/{breach.number}/repair", json=body)
    assert answer.status_code == 422
    assert chinese_date(earliest) in answer.json()["message"]
    assert answer.json()["repair_earliest"] == earliest.isoformat()


def test_a_backwards_date_range_is_refused_with_the_days_in_chinese(client: TestClient) -> None:
    params = {"date_from": "2026-07-01", "date_to": "2026-06-01"}
    page = client.get("/register", params=params)
    assert "决定日期起（2026年7月1日）晚于止（2026年6月1日）" in page.text
    answer = client.get(f"{API}/public/breaches", params=params)
    assert answer.status_code == 422
    message = answer.json()["message"]
    assert "决定日期起（2026年7月1日）晚于止（2026年6月1日）" in message
    assert "(date_from 2026-07-01 after date_to 2026-06-01)" in message


def test_a_stage_deadline_in_a_sentence_is_chinese_and_the_pending_label_stays() -> None:
    class Stage:
        stage_deadline: dt.date | None = dt.date(2026, 3, 16)
        deadline_pending = False

    assert deadline_text(Stage()) == "2026年3月16日"
    Stage.stage_deadline, Stage.deadline_pending = None, True
    assert deadline_text(Stage()) == PENDING_LABEL
    Stage.deadline_pending = False
    assert deadline_text(Stage()) is None


def test_the_pledgors_status_page_gives_the_review_deadline_in_chinese(
    engine: Engine, session: Session, staff: Staff
) -> None:
    created = register(app_at(engine, dt.date(2026, 3, 2)), staff)
    c = app_at(engine, dt.date(2026, 3, 10))
    upload(c, created)
    review_due = c.post(
        f"{API}/public/pledges/{created['number']}/status", json={"access_code": created["access_code"]}
    ).json()["review_due"]
    assert review_due is not None  # the API keeps the ISO day
    day = dt.date.fromisoformat(review_due)
    assert f"材料核查期限 {chinese_date(day)}" in status_text(c, created)
    assert review_due not in status_text(c, created)


def test_a_resumed_stage_records_its_old_deadline_as_an_iso_day(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    set_today(client, dt.date(2026, 3, 4))
    act(client, staff, "handler", cid, "await_complainant", reason="请投诉人补充合同原件")
    set_today(client, dt.date(2026, 3, 9))
    act(client, staff, "intake", cid, "resume")
    [resume] = session.exec(select(CaseEvent).where(CaseEvent.event == "resume")).all()
    assert (resume.data["old_deadline"], resume.data["new_deadline"]) == ("2026-03-23", "2026-03-26")

"""The public pages write a day inside a Chinese sentence as a citizen reads it (2026年4月8日), through one
page filter, ``cn_date``, with the ISO day kept for machines in ``<time datetime>``: the register's record
forms and page, the online complaint's receipt, case tracking, the pledgor's status page and the printed
告知承诺书. A moment is read as its day in Beijing, never as the UTC day."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.clock import Clock
from models.complaint import Complaint
from models.errors import ValidationFailed
from models.pledge import Pledge
from models.pledges.self_service import objection_reply_due, pending_request
from tests.conftest import Staff
from tests.test_complaints_api import set_today
from tests.test_online_complaint_submission import FORM
from tests.test_pledgor_is_shown_and_told_the_truth import (
    app_at,
    notice_text,
    register,
    status_text,
    upload,
)
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import post_form
from web.core import cn_date, env

UTC = dt.UTC
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def chinese(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def timed(day: dt.date) -> str:
    """The day as the pages mark it: Chinese for the reader, ISO for machines."""
    return f'<time datetime="{day.isoformat()}">{chinese(day)}</time>'


def words(html: str) -> str:
    """What a reader sees: the page without its tags and attributes."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html))


def test_the_filter_writes_a_day_the_chinese_way_and_a_moment_as_its_beijing_day() -> None:
    assert env.filters["cn_date"] is cn_date
    assert cn_date(dt.date(2026, 4, 8)) == "2026年4月8日"
    assert cn_date(dt.date(2026, 12, 31)) == "2026年12月31日"
    # 16:30 UTC is 00:30 the next day in Beijing; 15:59 UTC is still the same day there.
    assert cn_date(dt.datetime(2026, 4, 7, 16, 30, tzinfo=UTC)) == "2026年4月8日"
    assert cn_date(dt.datetime(2026, 4, 7, 15, 59, tzinfo=UTC)) == "2026年4月7日"
    assert cn_date(dt.datetime(2026, 12, 31, 16, 0, tzinfo=UTC)) == "2027年1月1日"
    assert cn_date(None) == "—"
    # A moment without its zone is refused, never taken as local.
    with pytest.raises(ValidationFailed):
        cn_date(dt.datetime(2026, 4, 7, 16, 30))
    rendered = env.from_string("{{ d | cn_date }}").render(d=dt.datetime(2026, 4, 7, 16, 30, tzinfo=UTC))
    assert rendered == "2026年4月8日"


def test_the_record_forms_say_when_a_request_is_answered_and_when_repair_opens_in_chinese(
    client: TestClient, engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    today = breach.repair_earliest - dt.timedelta(days=1)
    set_today(client, today)
    repair = client.get(f"/register/{breach.number}/repair").text
    assert f"本记录最早可于{timed(breach.repair_earliest)}申请信用修复" in repair
    objection = client.get(f"/register/{breach.number}/objection").text
    due = objection_reply_due(calendar=calendar, today=today)
    assert due is not None
    assert f"个工作日内（{timed(due)}前）答复" in objection
    for page in (repair, objection):
        # No ISO day left for the reader: it stays only in the <time> elements' attributes.
        assert not ISO_DAY.search(words(page)), ISO_DAY.findall(words(page))
    set_today(client, breach.repair_earliest)
    opened = client.get(f"/register/{breach.number}/repair").text
    assert f"本记录最短公示期已满（{timed(breach.repair_earliest)}起可申请）" in opened


def test_the_record_page_after_an_objection_names_the_reply_day_in_chinese(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    sent = post_form(
        client,
        f"/register/{breach.number}/objection",
        {"access_code": access_code(session, breach), "reason": "材料已于期限内补交"},
    )
    assert sent.status_code == 303, sent.text
    session.expire_all()
    stored = session.get(PublishedBreach, breach.id)
    assert stored is not None
    assert stored.stage_deadline is not None
    pending = pending_request(stored)
    shown = env.get_template("record.html").render(
        record={"XDR_MC": "示", "XDR_LB": "法人", "XDR_SHXYM": CODE, "matter": "m", "facts": "f"}
        | {"basis": "b", "severity_label": "一般", "department_name": "d", "JDRQ": "2026-02-28"}
        | {"GSJZQ": "2027-02-28", "state_label": "异议处理中", "state": "under_objection"}
        | {"record_number": breach.number},
        objected=True, repair=False, pending=pending, offline_only=None, request_path="/",
        user=None, title="t", csrf_field="c", csrf_token="t",
    )  # fmt: skip
    assert f"认定部门将在 5 个工作日内（{timed(stored.stage_deadline)}前）答复" in shown


def test_the_online_receipt_and_tracking_write_their_days_in_chinese(
    client: TestClient, session: Session, staff: Staff
) -> None:
    answer = post_form(client, "/complaints/new", FORM)
    assert answer.status_code == 201, answer.text
    complaint = session.exec(select(Complaint)).one()
    assert complaint.stage_deadline is not None
    assert f"初审期限 {timed(complaint.stage_deadline)}。" in answer.text
    password = re.search(r'id="password">([^<]+)<', answer.text)
    assert password
    tracked = post_form(client, "/track", {"number": complaint.number, "password": password.group(1)})
    assert tracked.status_code == 200, tracked.text
    # The day it arrived in Beijing (the pinned "today" is for deadlines; the moment is the real one).
    registered = Clock.from_settings().local_date(complaint.created_at)
    assert f"登记日期 {timed(registered)}；当前阶段办理期限 {timed(complaint.stage_deadline)}" in tracked.text
    assert f'<span class="when">{timed(registered)}</span>' in tracked.text
    section = tracked.text[tracked.text.index('id="tracking"') :]
    assert not ISO_DAY.search(words(section))


def test_the_pledgors_status_page_writes_request_and_resubmission_days_in_chinese(
    engine: Engine, session: Session, staff: Staff
) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    created = register(c, staff)
    upload(app_at(engine, dt.date(2026, 3, 10)), created)
    c = app_at(engine, dt.date(2026, 3, 20))
    r = c.post(
        f"/api/v1/pledges/{created['id']}/actions/reject_evidence", json={"reason": "不清晰"},
        headers=staff.auth("handler"),
    )  # fmt: skip
    assert r.status_code == 200, r.text
    page = post_form(
        c, "/pledges/status", {"number": created["number"], "access_code": created["access_code"]}
    )
    assert page.status_code == 200, page.text
    resubmit_by = dt.date(2026, 3, 25)  # the publication day, 3 working days after the rejection
    assert f"请于{timed(resubmit_by)}零时前（公示日当天零时起即予公示）补正后重新提交" in page.text
    assert f"请于{chinese(resubmit_by)}零时前" in status_text(c, created).replace(" ", "")


def test_the_status_page_lists_an_objection_with_its_days_in_chinese(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    code = access_code(session, breach)
    sent = post_form(
        client, f"/register/{breach.number}/objection", {"access_code": code, "reason": "已补交"}
    )
    assert sent.status_code == 303, sent.text
    session.expire_all()
    stored = session.get(PublishedBreach, breach.id)
    assert stored is not None
    assert stored.stage_deadline is not None
    pledge = session.get(Pledge, stored.pledge_id)
    assert pledge is not None
    page = post_form(client, "/pledges/status", {"number": pledge.number, "access_code": code})
    assert page.status_code == 200, page.text
    lodged_at = session.exec(select(CaseEvent.at).where(CaseEvent.event == "object")).one()
    lodged = Clock.from_settings().local_date(lodged_at)
    assert f"<li>{timed(lodged)}提出的异议：" in page.text
    assert f"答复期限 {timed(stored.stage_deadline)}" in page.text


def test_the_printed_notice_writes_its_deadline_and_publication_rule_in_chinese(
    engine: Engine, session: Session, staff: Staff
) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    created = register(c, staff, deadline="2026-02-24")
    text = notice_text(c, staff, created["id"])
    assert "承诺期限 2026年2月24日前" in text
    assert "公示日为登记之日（2026年3月2日）后第 7 个工作日（2026年3月11日）" in text
    assert not ISO_DAY.search(text)

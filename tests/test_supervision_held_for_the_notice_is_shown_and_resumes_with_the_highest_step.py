"""Deadline supervision in a January before the year's holiday notice is loaded.

Every step of the ladder (红牌, 催办, 督办, 提级办理) is counted in working days overdue, which nobody can
count in a year without a notice: the runs send none (models/deadlines.py ``supervise_each``), not even for
a case late since December. The supervisors' dashboard says so and names the cases whose next step waits
(models/pending_deadlines.py ``supervision_hold``). On the day the notice is loaded a case whose several
steps fell due meanwhile (督办 on 5 January, 提级办理 on the 7th) is not sent them all at once without a
word: only the highest is sent, its event saying which were skipped and why (``climb``). A run missed on
days the calendar did count still catches up every step."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session, col, select

from models.calendar import CalendarYear, load_calendar, parse_year_file
from models.calendar_admin import load_year_notice
from models.complaints import ActionBody, act
from models.outbox import Notification
from models.pending_deadlines import supervision_hold
from models.settings import get_settings
from notifications.render import render
from tests.conftest import Staff
from tests.test_a_manual_chase_needs_a_department_to_chase import SUPERVISOR
from tests.test_december_pending_deadlines import (
    ADMIN,
    EXAMPLE_2027,
    case,
    dispatched,
    events,
    supervise,
)
from tests.web_support import sign_in

DECEMBER_28 = dt.date(2026, 12, 28)  # dispatched: signing for is due on 30 December
LADDER_EVENTS = ("warn_red", "remind", "supervise", "escalate")
UNLOADED = [dt.date(2027, 1, d) for d in (1, 4, 5, 6, 7)]
JANUARY_8 = dt.date(2027, 1, 8)


def late_since_december(session: Session) -> int:
    cid = dispatched(session, DECEMBER_28)
    assert case(session, cid).stage_deadline == dt.date(2026, 12, 30)
    supervise(session, dt.date(2026, 12, 31))
    assert [e.event for e in events(session, "complaint", cid, *LADDER_EVENTS)] == ["warn_red", "remind"]
    return cid


def load_2027(session: Session, on: dt.date) -> None:
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN,
                     today=on)  # fmt: skip
    # The time the notice was stored, as a first load on that day (Asia/Shanghai) records it.
    t = CalendarYear.__table__  # type: ignore[attr-defined]
    at = dt.datetime.combine(on, dt.time(2), tzinfo=dt.UTC)
    session.execute(update(t).where(t.c.year == 2027).values(loaded_at=at, first_loaded_at=at))
    session.commit()


def test_the_hold_names_the_cases_whose_next_step_waits(session: Session, staff: Staff) -> None:
    cid = late_since_december(session)
    for day in UNLOADED:
        supervise(session, day)
        hold = supervision_hold(session=session, today=day, calendar=load_calendar(session=session))
        assert hold is not None
        assert [(h.id, h.step, h.label) for h in hold.cases] == [(cid, "supervise", "督办")]
    assert [e.event for e in events(session, "complaint", cid, *LADDER_EVENTS)] == ["warn_red", "remind"]
    load_2027(session, JANUARY_8)
    assert supervision_hold(session=session, today=JANUARY_8, calendar=load_calendar(session=session)) is None


def test_on_the_day_of_loading_only_the_highest_step_due_is_sent_and_says_what_was_skipped(
    session: Session, staff: Staff
) -> None:
    cid = late_since_december(session)
    for day in UNLOADED:
        supervise(session, day)
    load_2027(session, JANUARY_8)
    calendar = load_calendar(session=session)
    assert calendar.add_working_days(dt.date(2026, 12, 30), 3) == dt.date(2027, 1, 5)  # 督办 fell due
    assert calendar.add_working_days(dt.date(2026, 12, 30), 5) == dt.date(2027, 1, 7)  # 提级办理 too
    supervise(session, JANUARY_8)
    ladder = events(session, "complaint", cid, *LADDER_EVENTS)
    assert [e.event for e in ladder] == ["warn_red", "remind", "escalate"]
    escalated = ladder[-1]
    assert escalated.data["skipped_steps"] == ["supervise"]
    assert escalated.data["skipped_reason"] == "calendar_missing"
    assert escalated.data["calendar_loaded_on"] == "2027-01-08"
    assert escalated.note is not None
    assert "督办未能发出" in escalated.note
    assert "提级办理" in escalated.note
    # The department's notice carries the explanation.
    notices = session.exec(
        select(Notification)
        .where(Notification.case_id == cid, Notification.template == "supervision_notice")
        .order_by(col(Notification.id))
    ).all()
    assert [n.context["step"] for n in notices] == ["remind", "escalate"]
    # The department's notice tells it, as the flow's account, not as a supervisor's 督办意见.
    assert notices[-1].context["explanation"] == escalated.note
    assert "note" not in notices[-1].context
    text = render("supervision_notice", notices[-1].context).text
    assert f"说明：{escalated.note}" in text
    assert "督办意见" not in text
    # The skipped step is not sent later either: the stage had a higher one.
    supervise(session, dt.date(2027, 1, 11))
    assert [e.event for e in events(session, "complaint", cid, *LADDER_EVENTS)] == [
        "warn_red", "remind", "escalate",
    ]  # fmt: skip


def test_a_drill_with_a_pinned_today_folds_the_steps_as_a_real_load_would(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = late_since_december(session)
    monkeypatch.setenv("SHOUXIN_TODAY", JANUARY_8.isoformat())
    get_settings.cache_clear()
    # Stored at the machine's time, which a drill's pinned today is not.
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    session.commit()
    supervise(session, JANUARY_8)
    ladder = events(session, "complaint", cid, *LADDER_EVENTS)
    assert [e.event for e in ladder] == ["warn_red", "remind", "escalate"]
    assert ladder[-1].data["skipped_steps"] == ["supervise"]


def test_runs_missed_while_the_calendar_counted_still_catch_up_every_step(
    session: Session, staff: Staff
) -> None:
    load_2027(session, dt.date(2026, 12, 20))  # loaded in time
    cid = dispatched(session, dt.date(2027, 1, 18))  # signing for due on 20 January
    supervise(session, dt.date(2027, 1, 28))  # the first run in a week: 6 working days overdue
    steps = events(session, "complaint", cid, *LADDER_EVENTS)
    assert [e.event for e in steps] == ["warn_red", "remind", "supervise", "escalate"]
    assert all("skipped_steps" not in e.data for e in steps)


@pytest.mark.parametrize("today", [dt.date(2027, 1, 5)])
def test_the_dashboard_says_chasing_is_suspended_and_lists_what_waits(
    client: TestClient, session: Session, staff: Staff, today: dt.date
) -> None:
    cid = late_since_december(session)
    sign_in(client, staff.supervisor)
    page = client.get("/staff/dashboard")
    assert page.status_code == 200
    assert 'id="supervision-hold"' in page.text
    assert "期限督办暂停：2027 年节假日安排尚未载入" in page.text
    assert '<strong id="supervision-hold-count">1</strong>' in page.text
    link = f'<a href="/staff/complaints/{cid}">{case(session, cid).number}</a>'
    assert f"{link}：期限 2026-12-30，下一步 督办" in page.text
    load_2027(session, today)
    assert 'id="supervision-hold"' not in client.get("/staff/dashboard").text


def test_a_supervisor_can_still_press_a_chase_by_hand_before_the_notice_is_loaded(
    session: Session, staff: Staff
) -> None:
    # The runs wait for the calendar; a supervisor who knows a case is late need not. The days overdue
    # are counted over the years the calendar knows (here 31 December), a lower bound.
    cid = late_since_december(session)
    calendar = load_calendar(session=session)
    assert not calendar.covers(2027)
    act(session=session, complaint_id=cid, action="supervise", body=ActionBody(note="请今日签收"),
        actor=SUPERVISOR, today=dt.date(2027, 1, 6), calendar=calendar)  # fmt: skip
    session.commit()
    [pressed] = events(session, "complaint", cid, "supervise")
    assert pressed.note == "请今日签收"
    notices = session.exec(
        select(Notification).where(Notification.case_id == cid, Notification.template == "supervision_notice")
    ).all()
    [notice] = [n for n in notices if n.context["step"] == "supervise"]
    assert notice.context["overdue_working_days"] == 1  # 31 December, the one known working day
    assert notice.context["note"] == "请今日签收"
    text = render("supervision_notice", notice.context).text
    assert "已超期至少1个工作日（本年度节假日安排尚未载入" in text

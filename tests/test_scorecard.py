"""Oversight figures: state counts, escalation ladder, pledges due, weekly flow, breaches, scores."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import scorecard
from models.accounts import department_by_code
from models.calendar import WorkCalendar
from models.clock import Clock
from models.complaint import Complaint, ComplaintCreate
from models.complaints import (
    ActionBody,
    CloseBody,
    ContactAttemptBody,
    DispatchBody,
    ExplanationBody,
    OptionalReasonBody,
    ReasonBody,
    ReplyBody,
    act,
    register_complaint,
)
from models.lifecycle import Role
from models.settings import get_settings
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_publication import new_pledge
from tests.test_register import CODE, publish

INTAKE = Actor(name="受理员", role=Role.INTAKE)
SUPERVISOR = Actor(name="督办员", role=Role.SUPERVISOR)


def _handler(session: Session, code: str) -> Actor:
    return Actor(
        name=f"{code}经办人",
        role=Role.HANDLER,
        department_id=department_by_code(session=session, code=code).id,
    )


def _complaint(session: Session, calendar: WorkCalendar, today: dt.date, lead: str) -> Complaint:
    data = ComplaintCreate(
        channel="window",  # type: ignore[arg-type]
        complainant_name="示范建工集团有限公司",
        complainant_phone="13800138000",
        category="sme_arrears",  # type: ignore[arg-type]
        summary="拖欠工程款",
    )
    case, _ = register_complaint(session=session, data=data, actor=INTAKE, today=today, calendar=calendar)
    assert case.id is not None
    for action, body in (("accept", ActionBody()), ("dispatch", DispatchBody(lead_department_code=lead))):
        act(
            session=session,
            complaint_id=case.id,
            action=action,
            body=body,
            actor=INTAKE,
            today=today,
            calendar=calendar,
        )
    return case


def _run(
    session: Session, calendar: WorkCalendar, today: dt.date, case: Complaint, *steps: tuple[Actor, str, Any]
) -> None:
    assert case.id is not None
    for actor, action, body in steps:
        act(
            session=session,
            complaint_id=case.id,
            action=action,
            body=body,
            actor=actor,
            today=today,
            calendar=calendar,
        )


def test_department_scores_on_time_redo_breach_and_satisfaction(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    d01, d02, d00 = _handler(session, "D01"), _handler(session, "D02"), _handler(session, "D00")
    done = _complaint(session, calendar, today, "D01")
    _run(
        session, calendar, today, done,
        (d01, "sign_for", ActionBody()),
        (d00, "verify_untrue", ExplanationBody(explanation="合同已履行")),
        (SUPERVISOR, "reply", ReplyBody(reply_text="经核实合同已履行完毕")),
        (INTAKE, "close", CloseBody(satisfaction="满意")),
    )  # fmt: skip
    reminded = _complaint(session, calendar, today, "D01")
    _run(session, calendar, today, reminded, (SUPERVISOR, "remind", ActionBody()))
    late = _complaint(session, calendar, today - dt.timedelta(days=14), "D02")
    _run(session, calendar, today - dt.timedelta(days=14), late, (d02, "sign_for", ActionBody()))
    session.commit()

    rows = {r.code: r for r in scorecard.department_scores(session=session, today=today)}
    assert set(rows) == {"D01", "D02"}
    assert (rows["D01"].handled, rows["D01"].on_time, rows["D01"].closed) == (2, 1, 1)
    assert rows["D01"].on_time_rate == 0.5
    assert rows["D01"].redo_rate == 0.0
    assert rows["D01"].satisfaction_rate == 1.0
    assert rows["D01"].breaches == 0
    # Signed 14 days ago, within its 15-working-day verification stage: on time, still open.
    assert rows["D02"].on_time == 1
    assert rows["D02"].handled == 1
    assert rows["D02"].closed == 0
    assert rows["D02"].redo_rate is None
    assert rows["D02"].satisfaction_rate is None

    counts = {c.state: c.count for c in scorecard.state_counts(session=session)}
    assert counts["closed"] == 1
    assert counts["dispatched"] == 1
    assert counts["signed"] == 1
    assert sum(counts.values()) == 3

    ladder = {r.level: r for r in scorecard.escalation_ladder(session=session)}
    assert ladder[1].count == 1
    assert ladder[1].numbers == [reminded.number]
    assert ladder[0].count == 1
    assert ladder[3].count == 0


def test_overdue_open_case_is_not_on_time(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    case = _complaint(session, calendar, today, "D01")
    session.commit()
    assert case.stage_deadline is not None
    later = calendar.nth_working_day_after(case.stage_deadline, 1)
    [row] = scorecard.department_scores(session=session, today=later)
    assert row.on_time == 0
    [row] = scorecard.department_scores(session=session, today=today)
    assert row.on_time == 1


def test_pledges_due_within_ten_working_days(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    soon = new_pledge(session, today, code=None, name="张小三")
    new_pledge(session, today + dt.timedelta(days=60), code=None, name="李四")
    session.commit()
    [due] = scorecard.pledges_due(session=session, today=today, calendar=calendar)
    assert due.number == soon.number
    assert due.publication_day == soon.publication_day
    assert 0 < due.working_days_left <= 10


def test_weekly_flow_and_breaches_per_month(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar, clock: Clock
) -> None:
    publish(engine, session, ("示范建设有限公司", CODE))
    now = dt.datetime.now(dt.UTC)
    today = clock.local_date(now)
    _complaint(session, calendar, dt.date(2026, 3, 2), "D01")
    session.commit()
    weeks = scorecard.weekly_flow(session=session, clock=clock, today=today, weeks=4)
    assert len(weeks) == 4
    assert weeks[-1].week_start == today - dt.timedelta(days=today.weekday())
    assert weeks[-1].opened == 1  # registered just now
    assert sum(w.closed for w in weeks) == 0

    months = scorecard.breaches_per_month(session=session, clock=clock, today=dt.date(2026, 3, 2), months=3)
    assert [m for m, _, _ in months] == ["2026-01", "2026-02", "2026-03"]
    assert months[1] == ("2026-02", 1, 0)  # the record decided on 2026-02-28


def test_cases_that_end_unsatisfied_or_unreachable_are_counted_apart(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_UNSATISFIED_CLOSE_AFTER_REDOS", "0")
    monkeypatch.setenv("SHOUXIN_UNREACHABLE_CONTACT_ATTEMPTS", "1")
    get_settings.cache_clear()
    d01, d00 = _handler(session, "D01"), _handler(session, "D00")
    replied = (
        (d01, "sign_for", ActionBody()),
        (d00, "verify_untrue", ExplanationBody(explanation="合同已履行")),
        (SUPERVISOR, "reply", ReplyBody(reply_text="经核实合同已履行完毕")),
    )
    satisfied, unsatisfied, unreachable = (_complaint(session, calendar, today, "D01") for _ in range(3))
    _run(session, calendar, today, satisfied, *replied, (INTAKE, "close", CloseBody(satisfaction="基本满意")))
    _run(
        session, calendar, today, unsatisfied, *replied,
        (SUPERVISOR, "close_unsatisfied", ReasonBody(reason="诉求超出政策范围")),
    )  # fmt: skip
    _run(
        session, calendar, today, unreachable, *replied,
        (INTAKE, "record_contact_attempt", ContactAttemptBody(contact_result="无人接听")),
        (SUPERVISOR, "close_unreachable", OptionalReasonBody()),
    )  # fmt: skip
    session.commit()

    [row] = scorecard.department_scores(session=session, today=today)
    assert (row.handled, row.closed, row.closed_unsatisfied, row.closed_unreachable) == (3, 1, 1, 1)
    # The unsatisfied ending is a rating; the unreachable one is not. 基本满意 counts as satisfied, as 12345
    # assessments count it: one of the two rated cases.
    assert (row.satisfied, row.rated, row.satisfaction_rate) == (1, 2, 0.5)
    counts = {c.state: c.count for c in scorecard.state_counts(session=session)}
    assert (counts["closed"], counts["closed_unsatisfied"], counts["closed_unreachable"]) == (1, 1, 1)

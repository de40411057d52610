"""The work queue, the scorecard's 未来公示 list and the complaint export say what the case pages say: a
queue's limit counts only cases the caller can act on, an evidence review whose deadline waits for next
year's notice says so, a pledge held for its evidence review is not announced for publication, and the
export shows channel, category and registration time as the case page does."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import scorecard
from models.calendar import WorkCalendar, load_calendar
from models.complaint import Complaint, ComplaintCreate
from models.complaints import ActionBody, ComplaintFilter, DispatchBody, register_complaint, work_queue
from models.exports import COMPLAINT_COLUMNS, complaint_rows
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_publication import run
from tests.test_publication_hold import DEADLINE, handler_of, new_pledge, state, submit
from tests.test_scorecard import INTAKE, SUPERVISOR, _complaint, _handler, _run

DAY = dt.date(2026, 3, 2)


def test_a_queue_limit_counts_only_the_cases_the_department_can_act_on(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    d01, d00 = _handler(session, "D01"), _handler(session, "D00")
    signed = _complaint(session, calendar, DAY, "D01")
    _run(session, calendar, DAY, signed, (d01, "sign_for", ActionBody()))  # now waits on D00's 核实
    for _ in range(3):
        # 待签收 by D01: D00, its 主管部门, sees them with earlier deadlines but has nothing to do in them.
        _complaint(session, calendar, DAY, "D01")
    session.commit()

    queue = work_queue(session=session, actor=d00, today=DAY, calendar=calendar, limit=2)

    assert [t.number for t in queue] == [signed.number]
    assert "verify_true" in queue[0].actions


def test_an_assisting_department_is_not_queued_the_cases_it_only_assists(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    d02 = _handler(session, "D02")
    data = ComplaintCreate(
        channel="window",  # type: ignore[arg-type]
        complainant_name="示范建工集团有限公司",
        complainant_phone="13800138000",
        category="sme_arrears",  # type: ignore[arg-type]
        summary="拖欠工程款",
    )
    assisted, _ = register_complaint(session=session, data=data, actor=INTAKE, today=DAY, calendar=calendar)
    dispatch = DispatchBody(lead_department_code="D01", assisting_department_codes=["D02"])
    _run(session, calendar, DAY, assisted, (INTAKE, "accept", ActionBody()), (INTAKE, "dispatch", dispatch))
    own = _complaint(session, calendar, DAY, "D02")  # the same deadline, queued after the assisted case
    session.commit()

    queue = work_queue(session=session, actor=d02, today=DAY, calendar=calendar, limit=1)

    assert [t.number for t in queue] == [own.number]


def test_an_evidence_review_due_in_a_year_not_yet_loaded_is_queued_as_pending(
    session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, dt.date(2026, 12, 31))
    submit(session, pledge, dt.date(2026, 12, 30))  # the review's deadline falls in 2027, not loaded
    assert state(session, pledge).deadline_pending

    queue = work_queue(
        session=session, actor=handler_of(pledge), today=dt.date(2026, 12, 30),
        calendar=load_calendar(session=session),
    )  # fmt: skip

    [review] = [t for t in queue if t.kind == "pledge"]
    assert (review.stage_deadline, review.deadline_pending) == (None, True)


def test_a_pledge_held_for_its_evidence_review_is_not_listed_as_about_to_be_published(
    engine: Engine, session: Session, staff: Staff
) -> None:
    held = new_pledge(session, DEADLINE)
    overdue = new_pledge(session, DEADLINE, name="另一建设有限公司", code=None)
    submit(session, held, DEADLINE)  # on time: publication waits for the authority's decision
    run(engine, dt.date(2026, 3, 6))  # the other one is now overdue

    due = scorecard.pledges_due(
        session=session, today=dt.date(2026, 3, 6), calendar=load_calendar(session=session)
    )

    assert [d.number for d in due] == [overdue.number]


def test_late_evidence_under_the_publish_on_day_rule_is_still_listed_as_about_to_be_published(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_PLEDGE_LATE_EVIDENCE_RULE", "publish_on_day")
    get_settings.cache_clear()
    late = new_pledge(session, DEADLINE)
    run(engine, dt.date(2026, 3, 6))
    submit(session, late, dt.date(2026, 3, 10))  # after the deadline: published on the day if undecided

    due = scorecard.pledges_due(
        session=session, today=dt.date(2026, 3, 10), calendar=load_calendar(session=session)
    )

    assert [d.number for d in due] == [late.number]


def test_the_complaint_export_shows_labels_and_the_beijing_registration_time(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    case = _complaint(session, calendar, DAY, "D01")
    # 07:30 in Beijing on 2 March is still 1 March in UTC.
    early = dt.datetime(2026, 3, 1, 23, 30, tzinfo=dt.UTC)
    session.execute(update(Complaint).where(Complaint.id == case.id).values(created_at=early))  # type: ignore[arg-type]
    session.commit()

    [row] = complaint_rows(session=session, actor=SUPERVISOR, filters=ComplaintFilter(), today=DAY)

    cells = dict(zip([header for _, header in COMPLAINT_COLUMNS], row, strict=True))
    assert (cells["受理渠道"], cells["投诉类别"]) == ("线下投诉窗口", "拖欠中小企业账款")
    assert cells["登记时间"] == "2026-03-02 07:30:00"

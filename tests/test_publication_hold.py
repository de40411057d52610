"""Evidence under the authority's review holds publication (RULEBOOK pledges §3): walked day by day.

A pledge due 2026-03-05 (Thursday) has its publication day on 2026-03-16, the 7th working day after it.
Evidence handed in on 2026-03-04 starts a review due 2026-03-11 (5 working days)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.calendar import load_calendar
from models.complaints import work_queue
from models.files import Upload
from models.lifecycle import PledgeState, Role
from models.outbox import Notification
from models.pledge import Pledge
from models.pledges import pledge_action, store_evidence
from models.pledges.review import supervise_reviews
from models.publication import recompute_publication_days
from models.settings import get_settings
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_publication import SYSTEM, _id, count, new_pledge, run

DEADLINE = dt.date(2026, 3, 5)
PUBLICATION_DAY = dt.date(2026, 3, 16)
PDF = b"%PDF-1.7 evidence"


def handler_of(pledge: Pledge) -> Actor:
    return Actor(name="住建经办人", role=Role.HANDLER, department_id=pledge.authority_id)


def submit(session: Session, pledge: Pledge, day: dt.date) -> None:
    session.expire_all()
    store_evidence(
        session=session, pledge_id=_id(pledge), uploads=[Upload("合格书.pdf", PDF)], actor=handler_of(pledge),
        today=day, calendar=load_calendar(session=session),
    )  # fmt: skip
    session.commit()  # services flush, callers commit


def decide(session: Session, pledge: Pledge, action: str, day: dt.date, reason: str | None = None) -> None:
    session.expire_all()
    pledge_action(
        session=session, pledge_id=_id(pledge), action=action, actor=handler_of(pledge), today=day,
        calendar=load_calendar(session=session), expected_version=None, reason=reason,
    )  # fmt: skip
    session.commit()


def state(session: Session, pledge: Pledge) -> Pledge:
    session.expire_all()
    found = session.get(Pledge, _id(pledge))
    assert found is not None
    return found


def events(session: Session, pledge: Pledge, event: str) -> list[dict[str, Any]]:
    stmt = select(CaseEvent).where(
        CaseEvent.case_kind == "pledge", CaseEvent.case_id == _id(pledge), CaseEvent.event == event
    )
    return [e.data for e in session.exec(stmt.order_by(col(CaseEvent.seq))).all()]


def test_evidence_on_time_holds_publication_until_the_authority_confirms(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, DEADLINE)
    assert pledge.publication_day == PUBLICATION_DAY
    submit(session, pledge, dt.date(2026, 3, 4))
    assert state(session, pledge).stage_deadline == dt.date(2026, 3, 11)

    for day in (PUBLICATION_DAY, PUBLICATION_DAY + dt.timedelta(days=1)):
        assert run(engine, day)["publish"] == 0
    assert state(session, pledge).state == PledgeState.EVIDENCE_SUBMITTED
    # One hold for the review, saying why; no "you will be published" warning to the pledgor.
    assert events(session, pledge, "hold_publication") == [
        {
            "publication_day": "2026-03-16",
            "reason": "evidence_under_review",
            "evidence_submitted_on": "2026-03-04",
            "late": False,
            "review_deadline": "2026-03-11",
        }
    ]
    assert count(session, Notification, Notification.template == "pledge_prepublication") == 0

    decide(session, pledge, "confirm", dt.date(2026, 3, 18))
    assert run(engine, dt.date(2026, 3, 19))["publish"] == 0
    assert state(session, pledge).state == PledgeState.FULFILLED
    assert count(session, PublishedBreach) == 0


def test_rejection_after_the_publication_day_publishes_on_the_third_working_day_after_it(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, DEADLINE)
    submit(session, pledge, dt.date(2026, 3, 4))
    run(engine, PUBLICATION_DAY)  # held
    decide(session, pledge, "reject_evidence", dt.date(2026, 3, 17), reason="合格书未加盖审查机构印章")

    rejected = state(session, pledge)
    assert rejected.publication_day == dt.date(2026, 3, 20)  # 3 working days after Tuesday 17 March
    assert rejected.publication_counted_from == dt.date(2026, 3, 17)
    assert events(session, pledge, "reject_evidence")[0]["publication_day"] == {
        "old": "2026-03-16",
        "new": "2026-03-20",
        "reason": "evidence_rejected_on_or_after_publication_day",
        "grace_working_days": 3,
    }
    mail = session.exec(select(Notification).where(Notification.template == "pledge_evidence_rejected")).one()
    assert mail.context["reason"] == "合格书未加盖审查机构印章"
    assert (mail.context["publication_day"], mail.context["rescheduled"]) == ("2026-03-20", True)

    assert run(engine, dt.date(2026, 3, 18)) == {
        "recompute": 0,
        "overdue": 1,
        "warn": 0,
        "remind": 0,
        "publish": 0,
    }
    assert run(engine, dt.date(2026, 3, 19))["publish"] == 0
    # A calendar recompute keeps the day counted from the rejection.
    assert (
        recompute_publication_days(session=session, calendar=load_calendar(session=session), actor=SYSTEM)
        == 0
    )
    session.commit()
    assert run(engine, dt.date(2026, 3, 20))["publish"] == 1
    published = events(session, pledge, "publish")[0]
    assert published["publication_day"] == "2026-03-20"
    assert published["reason"] == "not_fulfilled_by_publication_day"
    assert published["counted_from"] == {"rejection": "2026-03-17"}
    assert session.exec(select(PublishedBreach)).one().decision_date == dt.date(2026, 3, 20)


def test_new_evidence_accepted_within_the_grace_is_not_published(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, DEADLINE)
    submit(session, pledge, dt.date(2026, 3, 4))
    decide(session, pledge, "reject_evidence", dt.date(2026, 3, 16), reason="缺少审查意见页")
    run(engine, dt.date(2026, 3, 17))  # overdue again, due 2026-03-19
    assert state(session, pledge).publication_day == dt.date(2026, 3, 19)
    submit(session, pledge, dt.date(2026, 3, 18))
    decide(session, pledge, "confirm", dt.date(2026, 3, 19))
    assert run(engine, dt.date(2026, 3, 23))["publish"] == 0
    assert state(session, pledge).state == PledgeState.FULFILLED


def test_rejection_before_the_publication_day_keeps_the_day(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, DEADLINE)
    submit(session, pledge, dt.date(2026, 3, 4))
    decide(session, pledge, "reject_evidence", dt.date(2026, 3, 9), reason="材料不清晰")
    assert state(session, pledge).publication_day == PUBLICATION_DAY
    assert events(session, pledge, "reject_evidence")[0]["publication_day"] == {
        "unchanged": "2026-03-16",
        "reason": "publication_day_still_ahead",
    }
    mail = session.exec(select(Notification).where(Notification.template == "pledge_evidence_rejected")).one()
    assert mail.context["rescheduled"] is False
    assert run(engine, dt.date(2026, 3, 13))["publish"] == 0
    assert run(engine, PUBLICATION_DAY)["publish"] == 1
    assert events(session, pledge, "publish")[0]["counted_from"] == {"deadline": "2026-03-05"}


def test_late_evidence_waits_for_the_decision_by_default(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, DEADLINE)
    run(engine, dt.date(2026, 3, 6))  # overdue
    submit(session, pledge, dt.date(2026, 3, 10))
    assert run(engine, PUBLICATION_DAY)["publish"] == 0
    hold = events(session, pledge, "hold_publication")[0]
    assert (hold["late"], hold["late_evidence_rule"], hold["evidence_submitted_on"]) == (
        True,
        "wait",
        "2026-03-10",
    )


def test_late_evidence_rule_publish_on_day_publishes_undecided_late_evidence_only(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_PLEDGE_LATE_EVIDENCE_RULE", "publish_on_day")
    get_settings.cache_clear()
    late = new_pledge(session, DEADLINE)
    on_time = new_pledge(session, DEADLINE, name="另一建设有限公司", code=None)
    submit(session, on_time, DEADLINE)  # the deadline day itself is on time (due by 24:00)
    run(engine, dt.date(2026, 3, 6))
    submit(session, late, dt.date(2026, 3, 10))
    assert run(engine, dt.date(2026, 3, 13), dry_run=True)["publish"] == 0
    assert run(engine, PUBLICATION_DAY, dry_run=True)["publish"] == 1
    assert run(engine, PUBLICATION_DAY)["publish"] == 1
    assert state(session, late).state == PledgeState.PUBLISHED
    why = events(session, late, "publish")[0]
    assert (why["reason"], why["evidence_submitted_on"]) == ("late_evidence_undecided", "2026-03-10")
    assert state(session, on_time).state == PledgeState.EVIDENCE_SUBMITTED
    assert events(session, on_time, "hold_publication")[0]["late"] is False


def test_late_evidence_handed_in_while_the_sweep_runs_is_named_in_the_publish_event(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The evidence arrives between the sweep's read of its batch and its compare-and-set: the pledge is
    read again after the UPDATE (its version moved), and the event still says it was published with late
    evidence undecided, not as unfulfilled."""
    import models.publication as publication

    monkeypatch.setenv("SHOUXIN_PLEDGE_LATE_EVIDENCE_RULE", "publish_on_day")
    get_settings.cache_clear()
    late = new_pledge(session, DEADLINE)
    run(engine, dt.date(2026, 3, 6))  # overdue
    claim = publication.apply_event_many

    def evidence_first(**kwargs: Any) -> Any:
        if kwargs["event"] == "publish":
            with Session(engine) as other:  # the pledgor's upload, committed before the sweep's UPDATE
                submit(other, late, PUBLICATION_DAY)
        return claim(**kwargs)

    monkeypatch.setattr(publication, "apply_event_many", evidence_first)
    assert run(engine, PUBLICATION_DAY)["publish"] == 1
    why = events(session, late, "publish")[0]
    assert (why["reason"], why["evidence_submitted_on"]) == ("late_evidence_undecided", "2026-03-16")


def test_review_deadline_climbs_the_warning_ladder_once_per_step(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, DEADLINE)
    submit(session, pledge, dt.date(2026, 3, 4))  # review due 2026-03-11
    calendar = load_calendar(session=session)

    def supervise(day: dt.date) -> int:
        return supervise_reviews(
            session=session, ids=[_id(pledge)], actor=SYSTEM, today=day, calendar=calendar
        )

    def supervise_and_commit(day: dt.date) -> int:
        applied = supervise(day)
        session.commit()  # the flow task commits its batch
        return applied

    walked = {
        day: supervise_and_commit(day)
        for day in [dt.date(2026, 3, d) for d in (9, 10, 11, 12, 13, 14, 16, 18)]
    }
    assert walked == {
        dt.date(2026, 3, 9): 0,
        dt.date(2026, 3, 10): 1,  # yellow: one working day before
        dt.date(2026, 3, 11): 0,
        dt.date(2026, 3, 12): 2,  # red and 催办 on the first working day after
        dt.date(2026, 3, 13): 0,
        dt.date(2026, 3, 14): 0,  # a Saturday adds nothing
        dt.date(2026, 3, 16): 1,  # 督办 at 3 working days overdue
        dt.date(2026, 3, 18): 1,  # 提级办理 at 5
    }
    assert supervise(dt.date(2026, 3, 18)) == 0
    ladder = session.exec(
        select(CaseEvent.event).where(CaseEvent.case_id == _id(pledge), col(CaseEvent.event).like("review_%"))
    ).all()
    assert sorted(ladder) == sorted(
        ["review_warn_yellow", "review_warn_red", "review_remind", "review_supervise", "review_escalate"]
    )
    notices = session.exec(select(Notification).where(Notification.template == "pledge_review_notice")).all()
    assert {n.recipient_kind for n in notices} == {"department", "supervisor"}
    # The warnings go to the department alone; 催办, 督办 and 提级 to the supervisors too.
    assert {n.context["step_label"] for n in notices if n.recipient_kind == "supervisor"} == {
        "催办",
        "督办",
        "提级办理",
    }


def test_reviews_are_in_the_handlers_work_queue_by_deadline(
    engine: Engine, session: Session, staff: Staff
) -> None:
    first = new_pledge(session, DEADLINE)
    second = new_pledge(session, DEADLINE, name="另一建设有限公司", code=None)
    submit(session, second, dt.date(2026, 3, 2))  # review due 2026-03-09
    submit(session, first, dt.date(2026, 3, 4))  # review due 2026-03-11
    calendar = load_calendar(session=session)
    handler = handler_of(first)
    queue = work_queue(session=session, actor=handler, today=dt.date(2026, 3, 10), calendar=calendar)
    reviews = [(t.kind, t.id, t.stage_deadline, t.working_days_left) for t in queue if t.kind == "pledge"]
    assert reviews == [
        ("pledge", _id(second), dt.date(2026, 3, 9), -1),
        ("pledge", _id(first), dt.date(2026, 3, 11), 1),
    ]
    assert {"confirm", "reject_evidence"} <= set(queue[0].actions)
    other = Actor(name="他部门经办人", role=Role.HANDLER, department_id=_id(first) + 10_000)
    assert [t for t in work_queue(session=session, actor=other, today=dt.date(2026, 3, 10), calendar=calendar)
            if t.kind == "pledge"] == []  # fmt: skip
    supervisor = Actor(name="督办员", role=Role.SUPERVISOR)
    seen = work_queue(session=session, actor=supervisor, today=dt.date(2026, 3, 10), calendar=calendar)
    assert {t.id for t in seen if t.kind == "pledge"} == {_id(first), _id(second)}

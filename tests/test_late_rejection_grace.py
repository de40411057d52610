"""A rejection of evidence always leaves the pledgor the grace to hand in new evidence (RULEBOOK pledges §3:
a pledgor is never published for the authority's delay).

A pledge due 2026-03-05 (Thursday) has its publication day on Monday 2026-03-16; evidence handed in on the
deadline day starts a review due 2026-03-12. The publication day becomes the later of that day and the
3rd working day after the rejection (``pledge_rejection_grace_working_days``)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.calendar import load_calendar
from models.lifecycle import PledgeState
from models.outbox import Notification
from models.publication import recompute_publication_days
from tests.conftest import Staff
from tests.test_publication import SYSTEM, new_pledge, run
from tests.test_publication_hold import decide, events, state, submit

DEADLINE = dt.date(2026, 3, 5)
PUBLICATION_DAY = dt.date(2026, 3, 16)


def rejection_mail(session: Session) -> Notification:
    return session.exec(select(Notification).where(Notification.template == "pledge_evidence_rejected")).one()


def test_a_late_review_rejecting_the_working_day_before_publication_leaves_the_grace(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, DEADLINE)
    assert pledge.publication_day == PUBLICATION_DAY
    submit(session, pledge, DEADLINE)  # on the deadline day: on time
    assert state(session, pledge).stage_deadline == dt.date(2026, 3, 12)
    run(engine, dt.date(2026, 3, 12))
    # Friday, a day past the review deadline; the next working day is the publication day.
    decide(session, pledge, "reject_evidence", dt.date(2026, 3, 13), reason="合格书未盖章")

    rejected = state(session, pledge)
    assert rejected.publication_day == dt.date(2026, 3, 18)  # 3 working days after Friday 13 March
    assert rejected.publication_counted_from == dt.date(2026, 3, 13)
    assert events(session, pledge, "reject_evidence")[0]["publication_day"] == {
        "old": "2026-03-16",
        "new": "2026-03-18",
        "reason": "evidence_rejected_within_grace_of_publication_day",
        "grace_working_days": 3,
    }
    mail = rejection_mail(session)
    assert (mail.context["publication_day"], mail.context["rescheduled"]) == ("2026-03-18", True)

    for day in (PUBLICATION_DAY, dt.date(2026, 3, 17)):
        assert run(engine, day)["publish"] == 0
    assert state(session, pledge).state == PledgeState.OVERDUE
    # A calendar recompute keeps the day counted from the rejection.
    assert (
        recompute_publication_days(session=session, calendar=load_calendar(session=session), actor=SYSTEM)
        == 0
    )
    session.commit()
    assert run(engine, dt.date(2026, 3, 18))["publish"] == 1
    assert events(session, pledge, "publish")[0]["counted_from"] == {"rejection": "2026-03-13"}


@pytest.mark.parametrize(
    ("rejected_on", "publication_day", "rescheduled"),
    [
        (dt.date(2026, 3, 9), PUBLICATION_DAY, False),  # grace ends 03-12: well before the day
        (dt.date(2026, 3, 11), PUBLICATION_DAY, False),  # grace ends on the day itself: enough
        (dt.date(2026, 3, 12), dt.date(2026, 3, 17), True),  # in the review's time, yet too close
    ],
    ids=["well-before", "grace-ends-on-the-day", "grace-ends-after-the-day"],
)
def test_a_rejection_before_the_day_keeps_it_only_when_the_grace_fits_before_it(
    engine: Engine,
    session: Session,
    staff: Staff,
    rejected_on: dt.date,
    publication_day: dt.date,
    rescheduled: bool,
) -> None:
    pledge = new_pledge(session, DEADLINE)
    submit(session, pledge, dt.date(2026, 3, 4))
    decide(session, pledge, "reject_evidence", rejected_on, reason="材料不清晰")

    rejected = state(session, pledge)
    assert rejected.publication_day == publication_day
    assert rejected.publication_counted_from == (rejected_on if rescheduled else None)
    recorded = events(session, pledge, "reject_evidence")[0]["publication_day"]
    if rescheduled:
        assert recorded["reason"] == "evidence_rejected_within_grace_of_publication_day"
        assert (recorded["old"], recorded["new"]) == ("2026-03-16", publication_day.isoformat())
    else:
        assert recorded == {"unchanged": "2026-03-16", "reason": "publication_day_still_ahead"}
    mail = rejection_mail(session)
    assert (mail.context["publication_day"], mail.context["rescheduled"]) == (
        publication_day.isoformat(),
        rescheduled,
    )
    assert run(engine, publication_day - dt.timedelta(days=1))["publish"] == 0
    assert run(engine, publication_day)["publish"] == 1


def test_a_rejection_on_or_after_the_day_still_counts_the_grace_from_the_rejection(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, DEADLINE)
    submit(session, pledge, dt.date(2026, 3, 4))
    run(engine, PUBLICATION_DAY)  # held for the review
    decide(session, pledge, "reject_evidence", dt.date(2026, 3, 17), reason="合格书未加盖审查机构印章")

    rejected = state(session, pledge)
    assert rejected.publication_day == dt.date(2026, 3, 20)
    assert rejected.publication_counted_from == dt.date(2026, 3, 17)
    assert events(session, pledge, "reject_evidence")[0]["publication_day"] == {
        "old": "2026-03-16",
        "new": "2026-03-20",
        "reason": "evidence_rejected_on_or_after_publication_day",
        "grace_working_days": 3,
    }
    assert rejection_mail(session).context["rescheduled"] is True
    assert run(engine, dt.date(2026, 3, 19))["publish"] == 0
    assert run(engine, dt.date(2026, 3, 20))["publish"] == 1

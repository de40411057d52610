"""A told deadline a corrected notice moves later stays there when a later load would move it back.

The department works to the last date it was told: once a correction told it 6 January, reloading the
original notice (whose calendar would give 5 January again) keeps 6 January and tells nobody anything,
as a pledge's told publication day is kept (models/publication_days.py). Before, the date went back to
5 January, one working day sooner than the department had been told."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from tests.conftest import Staff
from tests.test_calendar_changes_are_told import load, queued
from tests.test_december_pending_deadlines import case, dispatched, events


def test_a_told_deadline_corrected_later_is_not_moved_back_by_the_original_notice(
    session: Session, staff: Staff
) -> None:
    cid = dispatched(session, dt.date(2026, 12, 31))  # signing for, 待日历确定 until 2027 is loaded
    load(session)
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 5)
    load(session, holiday_days=["2027-01-05"])
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 6)
    load(session)  # the original notice again: its calendar gives 5 January

    assert case(session, cid).stage_deadline == dt.date(2027, 1, 6)
    told = [(n.context["old_deadline"], n.context["deadline"]) for n in queued(session, "deadline_set", cid)]
    assert told == [(None, "2027-01-05"), ("2027-01-05", "2027-01-06")]
    assert len(events(session, "complaint", cid, "deadline_recomputed")) == 1
    # Loading the same notice once more moves nothing and tells nobody.
    load(session)
    assert len(queued(session, "deadline_set", cid)) == 2

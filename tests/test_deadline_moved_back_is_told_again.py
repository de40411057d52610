"""A deadline a corrected notice moves away and a later load moves back is told both times.

The department works to the last date it was told: once a correction told it 6 January, reloading the
original notice (whose calendar version is the first one's again) must tell it 5 January again, not be
taken for the first mail and dropped."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session

from tests.conftest import Staff
from tests.test_calendar_changes_are_told import load, queued
from tests.test_december_pending_deadlines import case, dispatched


def test_a_deadline_corrected_away_and_back_is_told_again(session: Session, staff: Staff) -> None:
    cid = dispatched(session, dt.date(2026, 12, 31))  # signing for, 待日历确定 until 2027 is loaded
    load(session)
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 5)
    load(session, holiday_days=["2027-01-05"])
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 6)
    load(session)  # the original notice again: the same calendar version as the first load

    assert case(session, cid).stage_deadline == dt.date(2027, 1, 5)
    told = [(n.context["old_deadline"], n.context["deadline"]) for n in queued(session, "deadline_set", cid)]
    assert told == [(None, "2027-01-05"), ("2027-01-05", "2027-01-06"), ("2027-01-06", "2027-01-05")]
    # Loading the same notice once more moves nothing and tells nobody twice.
    load(session)
    assert len(queued(session, "deadline_set", cid)) == 3

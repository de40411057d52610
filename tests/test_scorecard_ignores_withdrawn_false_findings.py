"""A false pledge has its 严重 record on the register (models/pledges/review.py ``record_false_pledge``).
When that record is withdrawn on an upheld objection the finding was wrong: the scorecard does not count
the pledge as broken, as it does not for a published pledge whose record was withdrawn."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session

from models.calendar import load_calendar
from models.scorecard import Period
from models.scorecard_pledges import pledge_scores
from tests.conftest import Staff
from tests.test_false_pledge_is_recorded_and_repairable import _decided, _found_false
from tests.test_platform_documents import subject_files

MARCH = Period("month", dt.date(2026, 3, 1), dt.date(2026, 3, 31))  # the false pledge's deadline month


def test_a_false_pledge_whose_record_was_withdrawn_is_not_counted_broken(
    session: Session, staff: Staff
) -> None:
    del staff
    record = _found_false(session)
    subject_files(session, record, "object", dt.date(2026, 3, 4), load_calendar(session=session))
    _decided(session, record, "uphold_withdraw", dt.date(2026, 3, 5))
    [row] = pledge_scores(session=session, period=MARCH)
    assert (row.due, row.fulfilled, row.broken, row.fulfilment_rate) == (1, 0, 0, None)


@pytest.mark.parametrize("decision", [None, "reject_objection"])
def test_a_false_pledge_whose_finding_stands_is_still_counted_broken(
    session: Session, staff: Staff, decision: str | None
) -> None:
    del staff
    record = _found_false(session)
    if decision is not None:
        subject_files(session, record, "object", dt.date(2026, 3, 4), load_calendar(session=session))
        _decided(session, record, decision, dt.date(2026, 3, 5))
    [row] = pledge_scores(session=session, period=MARCH)
    assert (row.due, row.broken, row.fulfilment_rate) == (1, 1, 0.0)

"""The day-7 rule, each reading the README states ("The day-7 rule, as this system reads it") proven once."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from flows.registry import FLOWS, TIMEZONE
from models.calendar import WorkCalendar
from models.clock import Clock
from models.errors import TransitionNotAllowed
from models.lifecycle import PledgeState
from models.publication_days import compute_publication_day
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_publication import run
from tests.test_publication_hold import decide, events, new_pledge, state, submit

CALENDAR = WorkCalendar()


def test_the_deadline_is_a_shanghai_date_due_by_midnight(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 16:30 UTC on 5 March is already 00:30 on 6 March in Asia/Shanghai: "today" is the Shanghai date.
    moment = dt.datetime(2026, 3, 5, 16, 30, tzinfo=dt.UTC)
    assert Clock(tz=ZoneInfo(get_settings().timezone)).local_date(moment) == dt.date(2026, 3, 6)
    monkeypatch.setenv("SHOUXIN_TIMEZONE", "UTC")
    get_settings.cache_clear()
    assert Clock.from_settings().local_date(moment) == dt.date(2026, 3, 5)
    monkeypatch.delenv("SHOUXIN_TIMEZONE")
    get_settings.cache_clear()

    pledge = new_pledge(session, dt.date(2026, 3, 5))
    assert run(engine, dt.date(2026, 3, 5))["overdue"] == 0  # the deadline day is still the pledgor's
    submit(session, pledge, dt.date(2026, 3, 5))
    assert state(session, pledge).evidence_submitted_on == dt.date(2026, 3, 5)
    assert events(session, pledge, "submit_evidence")[0]["late"] is False
    late = new_pledge(session, dt.date(2026, 3, 5), name="另一建设有限公司", code=None)
    assert run(engine, dt.date(2026, 3, 6))["overdue"] == 1  # overdue from the first day after it
    submit(session, late, dt.date(2026, 3, 6))
    assert events(session, late, "submit_evidence")[0]["late"] is True


def test_working_days_are_counted_strictly_after_the_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # Deadline Friday 6 March 2026, itself a working day: day 1 is Monday 9 March, day 7 Tuesday 17 March.
    assert compute_publication_day(CALENDAR, dt.date(2026, 3, 6)) == dt.date(2026, 3, 17)
    # Spring Festival 2026: the make-up working Saturday 28 February counts, the holiday does not.
    assert compute_publication_day(CALENDAR, dt.date(2026, 2, 12)) == dt.date(2026, 2, 28)
    monkeypatch.setenv("SHOUXIN_PUBLICATION_WORKING_DAYS", "6")  # Guangzhou's rule
    get_settings.cache_clear()
    assert compute_publication_day(CALENDAR, dt.date(2026, 3, 6)) == dt.date(2026, 3, 16)


def test_a_deadline_on_a_holiday_is_not_moved() -> None:
    # 3 October 2026 is inside the National Day holiday. Counted from that date itself, day 7 is 15 October,
    # the same as for a deadline on the last working day before the holiday; moved to the next working day
    # (8 October) it would have been 16 October.
    on_holiday = compute_publication_day(CALENDAR, dt.date(2026, 10, 3))
    assert on_holiday == compute_publication_day(CALENDAR, dt.date(2026, 9, 30)) == dt.date(2026, 10, 15)
    assert on_holiday != compute_publication_day(CALENDAR, dt.date(2026, 10, 8))


def test_the_sweep_runs_at_ten_past_midnight_so_day_seven_is_no_day_of_grace(
    engine: Engine, session: Session, staff: Staff
) -> None:
    spec = next(f for f in FLOWS if f.name == "publish_breaches")
    assert (spec.cron, TIMEZONE) == ("10 0 * * *", "Asia/Shanghai")
    # Deadline 5 March: day 7 is 16 March. Fulfilled and confirmed on day 6: never published.
    kept = new_pledge(session, dt.date(2026, 3, 5))
    late = new_pledge(session, dt.date(2026, 3, 5), name="另一建设有限公司", code=None)
    run(engine, dt.date(2026, 3, 6))
    submit(session, kept, dt.date(2026, 3, 13))
    decide(session, kept, "confirm", dt.date(2026, 3, 13))
    assert run(engine, dt.date(2026, 3, 13))["publish"] == 0
    # The 00:10 run of day 7 publishes: evidence brought later that day finds the pledge already published.
    assert run(engine, dt.date(2026, 3, 16))["publish"] == 1
    assert state(session, late).state == PledgeState.PUBLISHED
    with pytest.raises(TransitionNotAllowed):
        submit(session, late, dt.date(2026, 3, 16))
    assert state(session, kept).state == PledgeState.FULFILLED

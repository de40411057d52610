"""A stage's deadline columns, known or waiting for the calendar (待日历确定).

A stage due a number of working days after a day gets its date when the calendar covers that year;
otherwise it is stored as pending — no date (``stage_deadline`` None), ``deadline_pending`` set, and the
working days still owed counted from a known day (``deadline_counted_from`` + ``deadline_working_days``) —
and ``models.pending_deadlines`` gives it its date once the year's notice is loaded. Pure values: the
lifecycle (``models.workflow``) and the complaint services write them; nothing here reads the database.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from models.calendar import WorkCalendar
from models.complaint import PENDING_DEADLINE_LABEL
from models.errors import OutOfCalendarCoverage

PENDING_LABEL = PENDING_DEADLINE_LABEL


def deadline_values(calendar: WorkCalendar, *, start: dt.date, days: int) -> dict[str, Any]:
    """The deadline columns of a stage due ``days`` working days after ``start``: its date when the
    calendar covers it, else pending. The start and the days are kept either way: a pending date is
    computed from them once its year is loaded, a known one again when a loaded year is corrected
    (models/pending_deadlines.py)."""
    counted = {"deadline_counted_from": start, "deadline_working_days": days}
    try:
        day = calendar.add_working_days(start, days)
    except OutOfCalendarCoverage:
        return {"stage_deadline": None, "deadline_pending": True, **counted}
    return {"stage_deadline": day, "deadline_pending": False, **counted}


# A stage without a deadline: nothing pending, nothing to count from.
NO_PENDING: dict[str, Any] = {
    "deadline_pending": False,
    "deadline_counted_from": None,
    "deadline_working_days": None,
}


def extended_values(calendar: WorkCalendar, case: Any, days: int) -> dict[str, Any]:
    """The deadline columns after ``days`` more working days (an approved extension, a paused clock
    resumed): owed on top, counted from the same day (the date becomes pending if it lands in an unloaded
    year); a stage without a deadline keeps none. A known deadline stored without them (before every
    deadline kept its start and days) is moved from its date."""
    if case.deadline_counted_from is not None and case.deadline_working_days is not None:
        return deadline_values(
            calendar, start=case.deadline_counted_from, days=case.deadline_working_days + days
        )
    if case.stage_deadline is None:
        return {**NO_PENDING, "stage_deadline": None}
    return deadline_values(calendar, start=case.stage_deadline, days=days)


def apply_values(case: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(case, name, value)


def deadline_text(case: Any) -> str | None:
    """What a page or mail shows for a stage's deadline: the ISO date, 待日历确定, or None (no deadline)."""
    if getattr(case, "deadline_pending", False):
        return PENDING_LABEL
    day = getattr(case, "stage_deadline", None)
    return day.isoformat() if day is not None else None

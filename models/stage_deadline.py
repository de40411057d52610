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
from models.clock import chinese_date
from models.complaint import PENDING_DEADLINE_LABEL
from models.errors import OutOfCalendarCoverage, ValidationFailed

PENDING_LABEL = PENDING_DEADLINE_LABEL


def deadline_values(calendar: WorkCalendar, *, start: dt.date, days: int) -> dict[str, Any]:
    """The deadline columns of a stage due ``days`` working days after ``start``: its date when the
    calendar covers it, else pending. The start and the days are kept either way: a pending date is
    computed from them once its year is loaded, a known one again when a loaded year is corrected
    (models/pending_deadlines.py)."""
    counted = {"deadline_counted_from": start, "deadline_working_days": days}
    try:
        day = due_day(calendar, start, days)
    except OutOfCalendarCoverage:
        return {"stage_deadline": None, "deadline_pending": True, **counted}
    return {"stage_deadline": day, "deadline_pending": False, **counted}


def due_day(calendar: WorkCalendar, start: dt.date, days: int) -> dt.date:
    """The date of a deadline ``days`` working days after ``start`` (``add_working_days``).

    A stage paused when already overdue and resumed in a year not loaded yet owes less than nothing: it is
    counted from the resume day with the working days it was overdue by when it paused, taken back
    (``resumed_values``). Its date is then the working day that many working days before ``start`` (the
    last working day on or before it counting as none), the date the pause's working days added to the
    old deadline give. Raises OutOfCalendarCoverage for a day whose year has no notice."""
    if days >= 0:
        return calendar.add_working_days(start, days)
    one = dt.timedelta(days=1)
    day = start
    while not calendar.is_workday(day):
        day -= one
    for _ in range(-days):
        day -= one
        while not calendar.is_workday(day):
            day -= one
    return day


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


def resumed_values(
    calendar: WorkCalendar, case: Any, *, paused_on: dt.date, today: dt.date
) -> tuple[dict[str, Any], int | None]:
    """The deadline columns of a paused stage resumed ``today``, and the working days the pause lasted
    (None while ``today``'s year has no notice, when they cannot be counted).

    The working days the stage had left when it paused are owed from today (pending in an unloaded year):
    the date the pause's working days added to the deadline give, and, counted from today, a corrected
    notice that changes a day inside the pause does not charge it to the stage (models/pending_deadlines.py).
    A stage paused when already overdue is moved by the pause, as an extension moves it; while the pause's
    working days cannot be counted yet, its deadline is pending, owed from today less the days it was
    overdue by (``due_day``), which is the same date once the year is loaded."""
    paused_days: int | None
    try:
        paused_days = max(calendar.working_days_between(paused_on, today), 0)
    except OutOfCalendarCoverage:
        paused_days = None
    left = _days_left_at(calendar, case, paused_on)
    if left is not None and left >= 1:
        return deadline_values(calendar, start=today, days=left), paused_days
    if case.stage_deadline is None and not case.deadline_pending:
        return extended_values(calendar, case, 0), paused_days  # no deadline: none after the pause either
    if paused_days is not None:
        return extended_values(calendar, case, paused_days), paused_days
    if left is not None:
        # Work never stops for a missing year (RULEBOOK, working days): the pause's working days cannot be
        # counted yet, so the deadline waits for the calendar (待日历确定), counted from today with the
        # days it was overdue by taken back (``due_day``); loading the year dates it.
        return deadline_values(calendar, start=today, days=left), paused_days
    raise ValidationFailed(
        f"本环节暂停时已超期，恢复后的期限须按 {today.year} 年节假日安排计算；请管理员先载入该年"
        "节假日安排，再恢复办理 (paused when overdue: load the year's holiday notice first)"
    )


def _days_left_at(calendar: WorkCalendar, case: Any, day: dt.date) -> int | None:
    """The working days the stage had left on ``day`` (counted from the day and working days it keeps, or,
    for a deadline stored without them, up to its date); None with no deadline or when not countable."""
    start: dt.date | None = case.deadline_counted_from
    days: int | None = case.deadline_working_days
    try:
        if start is not None and days is not None:
            return days - (calendar.working_days_between(start, day) if day > start else 0)
        if case.stage_deadline is not None:
            return calendar.working_days_between(day, case.stage_deadline)
    except OutOfCalendarCoverage:
        return None
    return None


def apply_values(case: Any, values: dict[str, Any]) -> None:
    for name, value in values.items():
        setattr(case, name, value)


def deadline_text(case: Any) -> str | None:
    """A stage's deadline as a sentence on a page gives it: the day in Chinese (2026年3月16日), 待日历确定,
    or None (no deadline). Event data, the API and staff tables keep the ISO day (``iso_date``)."""
    if getattr(case, "deadline_pending", False):
        return PENDING_LABEL
    day = getattr(case, "stage_deadline", None)
    return chinese_date(day) if day is not None else None

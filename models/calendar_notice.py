"""The rules a holiday notice's dates must keep with each other, checked before anything is stored.

Kept apart from models/calendar.py (which holds the notice model and the calendar) for room: each rule
names the dates at fault, so the administrator can correct the file without guessing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Protocol

from models.errors import ValidationFailed

_WEEKDAY_NAMES = ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日")


class Period(Protocol):
    """A holiday period of a notice, both ends inclusive (``models.calendar.HolidayPeriod``)."""

    @property
    def name(self) -> str: ...
    @property
    def start(self) -> dt.date: ...
    @property
    def end(self) -> dt.date: ...


def weekday_label(day: dt.date) -> str:
    return f"{day.isoformat()}（{_WEEKDAY_NAMES[day.weekday()]}）"


def _span(first: dt.date, last: dt.date) -> str:
    if first == last:
        return weekday_label(first)
    return f"{weekday_label(first)} 至 {weekday_label(last)}（共 {(last - first).days + 1} 天）"


def refuse_overlapping_periods(periods: Sequence[Period]) -> None:
    """Refuse two holiday periods sharing a day: a day belongs to one holiday, and the later period would
    silently rename the earlier one's days (the calendar page and the audit would show the wrong holiday).
    Both ends are checked already (start <= end)."""
    ordered = sorted(periods, key=lambda p: (p.start, p.end))
    for i, first in enumerate(ordered):
        for second in ordered[i + 1 :]:
            if second.start > first.end:
                break  # sorted by start: no later period reaches back into ``first`` either
            shared = (second.start, min(first.end, second.end))
            raise ValidationFailed(
                f"放假时段“{first.name}”（{first.start} 至 {first.end}）与“{second.name}”"
                f"（{second.start} 至 {second.end}）重叠，重叠日期为 {_span(*shared)}；"
                f"同一天只能属于一个放假时段，请对照通知原文更正后重新载入 "
                f"(holiday periods {first.name!r} and {second.name!r} overlap on "
                f"{shared[0]}..{shared[1]}; nothing stored)"
            )


def refuse_holiday_workday_clashes(holidays: Iterable[dt.date], workdays: Iterable[dt.date]) -> None:
    """Refuse a date listed both as a holiday and as a make-up working day (调休上班)."""
    clashes = sorted(set(holidays) & set(workdays))
    if clashes:
        raise ValidationFailed(
            f"{weekday_label(clashes[0])} 同时列为放假日和调休上班日；请删去其中一个 "
            f"(date {clashes[0]} is both a holiday and a make-up workday)"
        )

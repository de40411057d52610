"""The Chinese working-day calendar (工作日): Mon–Fri, minus statutory holidays, plus 调休 make-up days.

Years come from the ``chinese_calendar`` package or from a loaded State Council notice; a loaded notice
replaces the package's data for its year entirely. A date in a year neither covers is refused with
``OutOfCalendarCoverage``: a deadline computed from a guessed calendar would be silently wrong.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, NamedTuple

import chinese_calendar
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import Column, DateTime
from sqlalchemy import select as core_select
from sqlmodel import Field as SQLField
from sqlmodel import Session, SQLModel, col, select

from models.calendar_notice import refuse_holiday_workday_clashes, refuse_overlapping_periods
from models.calendar_notice import weekday_label as _weekday_label
from models.clock import utcnow
from models.errors import OutOfCalendarCoverage, ValidationFailed

# The package refuses years outside the span of its holiday table; mirror that rule exactly.
_LIBRARY_YEARS = range(
    min(chinese_calendar.holidays).year,
    max(chinese_calendar.holidays).year + 1,
)
MAKEUP_NAME = "调休上班"

DayKind = Literal["holiday", "workday"]


def _days_of_year(year: int) -> Iterator[dt.date]:
    day = dt.date(year, 1, 1)
    while day.year == year:
        yield day
        day += dt.timedelta(days=1)


def _short_hash(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


# ---------------------------------------------------------------------------------------------------
# The notice (国务院办公厅关于某年部分节假日安排的通知)
# ---------------------------------------------------------------------------------------------------


class HolidayPeriod(BaseModel):
    """One holiday period of a notice, both ends inclusive (e.g. 国庆节 10-01 … 10-07)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    start: dt.date
    end: dt.date

    def dates(self) -> Iterator[dt.date]:
        day = self.start
        while day <= self.end:
            yield day
            day += dt.timedelta(days=1)


class YearNotice(BaseModel):
    """One year's holiday arrangement as published by the State Council."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # The range only catches typos such as 20277; real notices are all well inside it.
    year: int = Field(ge=2000, le=2100)
    holidays: list[HolidayPeriod]
    workdays: list[dt.date] = Field(default_factory=list)
    notice_title: str = Field(min_length=1)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check_rules(self) -> YearNotice:
        for period in self.holidays:
            self._check_period(period)
        for day in self.workdays:
            self._check_in_year(day, "调休上班日")
            if day.weekday() < 5:
                raise ValidationFailed(
                    f"调休上班日 {_weekday_label(day)} 不是周末；调休上班日只能是星期六或星期日，"
                    f"请核对通知原文 (make-up workday {day} is not a Saturday or Sunday)"
                )
        refuse_overlapping_periods(self.holidays)
        refuse_holiday_workday_clashes(self.holiday_dates(), self.workdays)
        return self

    def _check_period(self, period: HolidayPeriod) -> None:
        if period.start > period.end:
            raise ValidationFailed(
                f"“{period.name}”的开始日期 {period.start} 晚于结束日期 {period.end}；请交换或更正 "
                f"(holiday period {period.name!r} starts after it ends)"
            )
        self._check_in_year(period.start, f"“{period.name}”开始日期")
        self._check_in_year(period.end, f"“{period.name}”结束日期")

    def _check_in_year(self, day: dt.date, what: str) -> None:
        if day.year != self.year:
            raise ValidationFailed(
                f"{what} {day} 不在 {self.year} 年内；跨年的日期请写入对应年份的文件 "
                f"(date {day} is outside year {self.year})"
            )

    def holiday_dates(self) -> frozenset[dt.date]:
        """Every date inside a holiday period, weekends included."""
        return frozenset(day for period in self.holidays for day in period.dates())

    def holiday_names(self) -> dict[dt.date, str]:
        return {day: period.name for period in self.holidays for day in period.dates()}

    def content_version(self) -> str:
        """A short hash of the whole notice; stored with the row so a cached calendar can be reused."""
        return _short_hash(self.model_dump(mode="json"))


def _validation_message(error: PydanticValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(根)"
    more = f"，另有 {error.error_count() - 1} 处错误" if error.error_count() > 1 else ""
    return (
        f"节假日文件字段 {where} 有误：{first['msg']}{more}；请对照 docs/calendar-example-2027.json 更正 "
        f"(invalid field {where})"
    )


def parse_year_notice(text: str, *, origin: str = "节假日文件") -> YearNotice:
    """Parse and validate a notice from JSON text; every failure is a ``ValidationFailed``."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{origin} 不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列 {exc.msg}；请修正该处 "
            f"(malformed JSON at line {exc.lineno}, column {exc.colno})"
        ) from exc
    try:
        return YearNotice.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationFailed(_validation_message(exc)) from exc


def parse_year_file(path: Path) -> YearNotice:
    """Read a notice from a UTF-8 JSON file (a BOM from Windows editors is tolerated)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            f"无法读取节假日文件 {path}：{exc}；请检查路径并确认文件为 UTF-8 编码 (cannot read {path})"
        ) from exc
    return parse_year_notice(text, origin=f"节假日文件 {path}")


# ---------------------------------------------------------------------------------------------------
# The calendar
# ---------------------------------------------------------------------------------------------------


class CalendarDay(NamedTuple):
    """A day that differs from the plain Mon–Fri pattern, or a holiday that falls on a weekend."""

    date: dt.date
    kind: DayKind
    name: str


@dataclass(frozen=True)
class _YearIndex:
    # Sorted ordinals so that "the n-th working day after" is one bisect and one index.
    ordinals: tuple[int, ...]
    members: frozenset[int]

    @classmethod
    def build(cls, days: Iterable[dt.date]) -> _YearIndex:
        ordinals = tuple(sorted(day.toordinal() for day in days))
        return cls(ordinals=ordinals, members=frozenset(ordinals))


@cache
def _library_index(year: int) -> _YearIndex:
    return _YearIndex.build(day for day in _days_of_year(year) if chinese_calendar.is_workday(day))


def _library_describe(year: int) -> list[CalendarDay]:
    result = [
        CalendarDay(day, "holiday", chinese_calendar.Holiday(value).chinese)
        for day, value in chinese_calendar.holidays.items()
        if day.year == year
    ]
    result += [
        CalendarDay(day, "workday", f"{MAKEUP_NAME}（{chinese_calendar.Holiday(value).chinese}）")
        for day, value in chinese_calendar.workdays.items()
        if day.year == year
    ]
    return sorted(result)


@dataclass(frozen=True)
class _Override:
    # A snapshot, because YearNotice's lists could still be mutated after validation.
    notice: YearNotice
    holidays: frozenset[dt.date]
    workdays: frozenset[dt.date]

    @classmethod
    def of(cls, notice: YearNotice) -> _Override:
        return cls(notice=notice, holidays=notice.holiday_dates(), workdays=frozenset(notice.workdays))

    def working_days(self) -> Iterator[dt.date]:
        for day in _days_of_year(self.notice.year):
            if day in self.workdays or (day.weekday() < 5 and day not in self.holidays):
                yield day


class WorkCalendar:
    """Working-day arithmetic over the package's years plus loaded notices (which win for their year)."""

    def __init__(self, notices: Mapping[int, YearNotice] | None = None) -> None:
        self._overrides: dict[int, _Override] = {}
        for year, notice in (notices or {}).items():
            if notice.year != year:
                raise ValidationFailed(
                    f"通知年份 {notice.year} 与登记的年份 {year} 不一致；请按通知年份载入 "
                    f"(notice for {notice.year} registered as {year})"
                )
            self._overrides[year] = _Override.of(notice)
        self._indexes: dict[int, _YearIndex] = {}
        self.version: str = _short_hash(
            {
                "chinese_calendar": chinese_calendar.__version__,
                "overrides": {
                    str(year): {
                        "holidays": sorted(day.isoformat() for day in item.holidays),
                        "workdays": sorted(day.isoformat() for day in item.workdays),
                    }
                    for year, item in self._overrides.items()
                },
            }
        )

    def __repr__(self) -> str:
        return f"WorkCalendar(version={self.version!r}, overrides={sorted(self._overrides)})"

    @property
    def notices(self) -> dict[int, YearNotice]:
        return {year: item.notice for year, item in self._overrides.items()}

    def with_notice(self, notice: YearNotice) -> WorkCalendar:
        """A new calendar with ``notice`` loaded (replacing any earlier notice for that year)."""
        return WorkCalendar({**self.notices, notice.year: notice})

    def covers(self, year: int) -> bool:
        return year in self._overrides or year in _LIBRARY_YEARS

    def covered_years(self) -> list[int]:
        return sorted(set(self._overrides) | set(_LIBRARY_YEARS))

    def _index(self, year: int) -> _YearIndex:
        index = self._indexes.get(year)
        if index is None:
            if year in self._overrides:
                index = _YearIndex.build(self._overrides[year].working_days())
            elif year in _LIBRARY_YEARS:
                index = _library_index(year)
            else:
                raise OutOfCalendarCoverage(year)
            self._indexes[year] = index
        return index

    def is_workday(self, d: dt.date) -> bool:
        return d.toordinal() in self._index(d.year).members

    def is_workday_if_known(self, d: dt.date) -> bool | None:
        """``is_workday(d)``, or None while ``d``'s year has no holiday notice: a January before the notice
        is loaded. What runs only on working days waits then, rather than guess."""
        return self.is_workday(d) if self.covers(d.year) else None

    def working_days_at_least(self, start: dt.date, end: dt.date) -> tuple[int, bool]:
        """Working days in (start, end] (``start <= end``) counted over the years the calendar covers, and
        whether that is all of them: a lower bound while a year in between has no notice."""
        if all(self.covers(year) for year in range(start.year, end.year + 1)):
            return self.working_days_between(start, end), True
        year = start.year - 1  # the last year of the covered run from start's year on
        while self.covers(year + 1):
            year += 1
        if year < start.year:
            return 0, False
        return self.working_days_between(start, dt.date(year, 12, 31)), False

    def nth_working_day_after(self, d: dt.date, n: int) -> dt.date:
        """The n-th working day strictly after ``d`` (n >= 1): a deadline on a holiday is not day 1."""
        if n < 1:
            raise ValidationFailed(f"工作日数须为正整数，收到 {n}；请传入 1 或更大的数 (n must be >= 1)")
        first = d + dt.timedelta(days=1)
        year, remaining = first.year, n
        position = bisect_left(self._index(year).ordinals, first.toordinal())
        while True:
            ordinals = self._index(year).ordinals
            available = len(ordinals) - position
            if remaining <= available:
                return dt.date.fromordinal(ordinals[position + remaining - 1])
            remaining -= available
            year, position = year + 1, 0

    def horizon(self, d: dt.date, n: int) -> dt.date:
        """The last day of "the next ``n`` working days after ``d``": the n-th working day, or, when that
        lies in a year not covered yet, the last covered day (every known deadline is then within reach;
        for "due soon" lists, which must not stop in a December without next year's notice)."""
        try:
            return self.nth_working_day_after(d, n)
        except OutOfCalendarCoverage:
            year = d.year
            while self.covers(year + 1):
                year += 1
            return dt.date(year, 12, 31)

    def add_working_days(self, d: dt.date, n: int) -> dt.date:
        """``d`` itself for n == 0, otherwise the n-th working day after ``d``."""
        if n < 0:
            raise ValidationFailed(
                f"不能加负数个工作日（{n}）；请传入 0 或正整数 (n must be >= 0)",
            )
        return d if n == 0 else self.nth_working_day_after(d, n)

    def working_days_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]; negative (minus the count in (end, start]) when end < start."""
        if end < start:
            return -self.working_days_between(end, start)
        if end == start:
            return 0
        first = start + dt.timedelta(days=1)
        total = 0
        for year in range(first.year, end.year + 1):
            ordinals = self._index(year).ordinals
            low = bisect_left(ordinals, first.toordinal()) if year == first.year else 0
            high = bisect_left(ordinals, end.toordinal() + 1) if year == end.year else len(ordinals)
            total += high - low
        return total

    def working_days_left(self, today: dt.date, deadline: dt.date | None) -> int | None:
        """``working_days_between(today, deadline)`` for a list or a page (negative: overdue); None when
        there is no deadline or it lies in a year whose holiday notice is not loaded (the date alone is
        shown then)."""
        if deadline is None:
            return None
        try:
            return self.working_days_between(today, deadline)
        except OutOfCalendarCoverage:
            return None

    def working_days_in_year(self, year: int) -> int:
        return len(self._index(year).ordinals)

    def describe_year(self, year: int) -> list[CalendarDay]:
        """The holidays (each date, weekends included) and make-up workdays of ``year``, by date."""
        override = self._overrides.get(year)
        if override is None:
            self._index(year)  # raises OutOfCalendarCoverage for an uncovered year
            return _library_describe(year)
        names = override.notice.holiday_names()
        days = [CalendarDay(day, "holiday", name) for day, name in names.items()]
        days += [CalendarDay(day, "workday", MAKEUP_NAME) for day in override.workdays]
        return sorted(days)


# ---------------------------------------------------------------------------------------------------
# Previewing a load
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayChange:
    """How loading a notice changes one day; ``was_workday`` is None when the year was not covered."""

    date: dt.date
    was_workday: bool | None
    now_workday: bool
    description: str


def _state(workday: bool) -> str:
    return "工作日" if workday else "休息日"


def diff_notice(calendar: WorkCalendar, notice: YearNotice) -> list[DayChange]:
    """The days whose status would change if ``notice`` were loaded into ``calendar``.

    For a year the calendar did not cover, the baseline is plain Mon–Fri and ``was_workday`` is None,
    so the preview lists the new holidays on weekdays and the make-up weekend days.
    """
    covered = calendar.covers(notice.year)
    after = WorkCalendar({notice.year: notice})
    names = notice.holiday_names()
    changes: list[DayChange] = []
    for day in _days_of_year(notice.year):
        before = calendar.is_workday(day) if covered else day.weekday() < 5
        now = after.is_workday(day)
        if before == now:
            continue
        reason = MAKEUP_NAME if now else names.get(day, "周末")
        if covered and now and day.weekday() < 5:
            # A weekday that works again is a holiday given back, not a weekend worked in exchange (调休).
            text = f"{_weekday_label(day)}：由假日改为工作日（取消放假）"
        elif covered:
            text = f"{_weekday_label(day)}：由{_state(before)}改为{_state(now)}（{reason}）"
        else:
            text = f"{_weekday_label(day)}：{_state(now)}（{reason}；该年原未载入）"
        changes.append(DayChange(day, before if covered else None, now, text))
    return changes


# ---------------------------------------------------------------------------------------------------
# Persistence
# ---------------------------------------------------------------------------------------------------


class CalendarYear(SQLModel, table=True):
    """A loaded notice; its presence replaces the package's data for that year."""

    __tablename__ = "calendar_year"

    year: int = SQLField(primary_key=True)
    notice_json: str
    notice_title: str
    source: str
    # The notice's content_version(), not the whole calendar's: the cache key for load_calendar.
    version: str = SQLField(max_length=32)
    # The stored notice's load (a correction's, if any) and who loaded it.
    loaded_at: dt.datetime = SQLField(sa_column=Column(DateTime(timezone=True), nullable=False))
    loaded_by: str
    # The year's first load, kept by every correction: from then on its working days were known
    # (models/deadlines.py ``_year_known_on``), however often a typo is mended afterwards.
    first_loaded_at: dt.datetime = SQLField(sa_column=Column(DateTime(timezone=True), nullable=False))


_CALENDAR_CACHE: dict[tuple[tuple[int, str], ...], WorkCalendar] = {}
_CALENDAR_CACHE_SIZE = 8
# Built once: the API asks for the key on nearly every request, and building the statement cost more than
# running it.
_calendar_years: Any = CalendarYear.__table__  # type: ignore[attr-defined]
_CALENDAR_KEY = core_select(_calendar_years.c.year, _calendar_years.c.version).order_by(
    _calendar_years.c.year
)


def load_calendar(*, session: Session) -> WorkCalendar:
    """The effective calendar; rebuilt only when the set of (year, version) rows changes."""
    if session.autoflush:
        session.flush()  # what the ORM query did before: the key must see the session's own changes
    # A Core query: the ORM's per-statement work cost more than SQLite's run of it.
    key = tuple((year, version) for year, version in session.connection().execute(_CALENDAR_KEY).all())
    cached = _CALENDAR_CACHE.get(key)
    if cached is not None:
        return cached
    rows = session.exec(select(CalendarYear).order_by(col(CalendarYear.year))).all()
    calendar = WorkCalendar({row.year: parse_year_notice(row.notice_json) for row in rows})
    if len(_CALENDAR_CACHE) >= _CALENDAR_CACHE_SIZE:
        _CALENDAR_CACHE.clear()
    _CALENDAR_CACHE[key] = calendar
    return calendar


def save_year_notice(*, session: Session, notice: YearNotice, loaded_by: str) -> tuple[list[DayChange], str]:
    """Insert or replace the notice for its year; returns the diff and the new calendar version. A
    correction keeps ``first_loaded_at``, when the year's days became known (deadlines ``_year_known_on``),
    even if it turns past days into holidays: those days' runs counted on the notice then stored, and the
    dates it moves are recomputed and told on their own (pending_deadlines). Flushes; the caller commits."""
    if not loaded_by.strip():
        raise ValidationFailed("请注明载入人 (loaded_by is empty: say who loads the notice)")
    previous = load_calendar(session=session)
    changes = diff_notice(previous, notice)
    now = utcnow()
    stored = session.get(CalendarYear, notice.year)
    # merge(): the portable upsert by primary key.
    session.merge(
        CalendarYear(
            year=notice.year,
            notice_json=notice.model_dump_json(indent=2),
            notice_title=notice.notice_title,
            source=notice.source,
            version=notice.content_version(),
            loaded_at=now,
            loaded_by=loaded_by.strip(),
            first_loaded_at=stored.first_loaded_at if stored is not None else now,
        )
    )
    session.flush()
    return changes, previous.with_notice(notice).version

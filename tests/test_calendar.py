"""The working-day calendar: agreement with an independent source, deadlines, coverage, loading, storage."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import chinese_calendar
import holidays
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, create_engine

from models.calendar import (
    CalendarYear,
    HolidayPeriod,
    WorkCalendar,
    YearNotice,
    diff_notice,
    load_calendar,
    parse_year_file,
    parse_year_notice,
    save_year_notice,
)
from models.errors import OutOfCalendarCoverage, ValidationFailed

D = dt.date
EXAMPLE_2027 = Path(__file__).resolve().parents[1] / "docs" / "calendar-example-2027.json"


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    return WorkCalendar()


@pytest.fixture
def notice_2027() -> YearNotice:
    return parse_year_file(EXAMPLE_2027)


def official_2026(**changes: Any) -> YearNotice:
    """国办发明电〔2025〕7号 as data, so a test can load a corrected copy of a library year."""
    data: dict[str, Any] = {
        "year": 2026,
        "notice_title": "国务院办公厅关于2026年部分节假日安排的通知",
        "source": "国办发明电〔2025〕7号",
        "holidays": [
            {"name": "元旦", "start": "2026-01-01", "end": "2026-01-03"},
            {"name": "春节", "start": "2026-02-15", "end": "2026-02-23"},
            {"name": "清明节", "start": "2026-04-04", "end": "2026-04-06"},
            {"name": "劳动节", "start": "2026-05-01", "end": "2026-05-05"},
            {"name": "端午节", "start": "2026-06-19", "end": "2026-06-21"},
            {"name": "中秋节", "start": "2026-09-25", "end": "2026-09-27"},
            {"name": "国庆节", "start": "2026-10-01", "end": "2026-10-07"},
        ],
        "workdays": ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
    }
    data.update(changes)
    return YearNotice.model_validate(data)


def days(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    while start <= end:
        yield start
        start += dt.timedelta(days=1)


# --- agreement and arithmetic ---------------------------------------------------------------------


def test_every_day_2024_to_2026_agrees_with_the_holidays_package(calendar: WorkCalendar) -> None:
    reference = holidays.country_holidays("CN", years=range(2024, 2027))
    disagreements = [
        day
        for day in days(D(2024, 1, 1), D(2026, 12, 31))
        if calendar.is_workday(day) != reference.is_working_day(day)
    ]
    assert disagreements == []


def test_a_loaded_copy_of_2026_agrees_with_the_library(calendar: WorkCalendar) -> None:
    loaded = WorkCalendar({2026: official_2026()})
    assert all(
        loaded.is_workday(day) == calendar.is_workday(day) for day in days(D(2026, 1, 1), D(2026, 12, 31))
    )
    assert loaded.working_days_in_year(2026) == calendar.working_days_in_year(2026)


@pytest.mark.parametrize(
    ("deadline", "n", "expected"),
    [
        # National Day 10-01…10-07 with make-up Saturday 10-10.
        (D(2026, 9, 29), 7, D(2026, 10, 14)),
        # Spring Festival 02-15…02-23; make-up Saturdays 02-14 and 02-28 count as working days.
        (D(2026, 2, 13), 7, D(2026, 3, 2)),
        (D(2026, 2, 12), 7, D(2026, 2, 28)),
        (D(2026, 2, 13), 1, D(2026, 2, 14)),
        # Across the year boundary: New Year 01-01…01-03, make-up Sunday 2026-01-04.
        (D(2025, 12, 26), 7, D(2026, 1, 7)),
        (D(2025, 12, 31), 7, D(2026, 1, 12)),
        (D(2025, 12, 31), 1, D(2026, 1, 4)),
        # A deadline on a weekend or a holiday: counting starts the next working day.
        (D(2026, 3, 7), 7, D(2026, 3, 17)),
        (D(2026, 10, 3), 7, D(2026, 10, 15)),
        (D(2026, 10, 3), 1, D(2026, 10, 8)),
        # Guangzhou's 6th day.
        (D(2026, 9, 29), 6, D(2026, 10, 13)),
    ],
)
def test_nth_working_day_after(calendar: WorkCalendar, deadline: dt.date, n: int, expected: dt.date) -> None:
    assert calendar.nth_working_day_after(deadline, n) == expected
    assert calendar.working_days_between(deadline, expected) == n
    assert calendar.add_working_days(deadline, n) == expected


def test_nth_working_day_refuses_non_positive_n(calendar: WorkCalendar) -> None:
    with pytest.raises(ValidationFailed, match="正整数"):
        calendar.nth_working_day_after(D(2026, 1, 5), 0)
    with pytest.raises(ValidationFailed, match="负数"):
        calendar.add_working_days(D(2026, 1, 5), -1)
    assert calendar.add_working_days(D(2026, 10, 3), 0) == D(2026, 10, 3)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (D(2026, 9, 30), D(2026, 10, 8), 1),
        (D(2026, 9, 30), D(2026, 10, 7), 0),
        (D(2026, 10, 8), D(2026, 9, 30), -1),
        (D(2026, 9, 29), D(2026, 10, 14), 7),
        (D(2026, 10, 14), D(2026, 9, 29), -7),
        (D(2026, 5, 6), D(2026, 5, 6), 0),
        (D(2025, 12, 31), D(2026, 1, 4), 1),
        (D(2025, 12, 31), D(2026, 12, 31), 248),  # 261 weekdays - 19 off + 6 make-up
        (D(2026, 12, 31), D(2026, 12, 31), 0),
    ],
)
def test_working_days_between(calendar: WorkCalendar, start: dt.date, end: dt.date, expected: int) -> None:
    assert calendar.working_days_between(start, end) == expected


@given(
    st.dates(min_value=D(2004, 1, 1), max_value=D(2026, 6, 30)),
    st.integers(min_value=1, max_value=80),
)
def test_counting_and_stepping_agree(start: dt.date, n: int) -> None:
    calendar = WorkCalendar()
    target = calendar.nth_working_day_after(start, n)
    assert calendar.is_workday(target)
    assert calendar.working_days_between(start, target) == n
    assert calendar.working_days_between(start, target - dt.timedelta(days=1)) == n - 1


def test_long_spans_match_a_day_by_day_count(calendar: WorkCalendar) -> None:
    start = D(2004, 1, 1)
    naive = [day for day in days(D(2004, 1, 2), D(2026, 12, 31)) if chinese_calendar.is_workday(day)]
    assert calendar.nth_working_day_after(start, 5000) == naive[4999]
    assert calendar.working_days_between(start, D(2026, 12, 31)) == len(naive)


def test_describe_year_from_the_library(calendar: WorkCalendar) -> None:
    described = calendar.describe_year(2026)
    assert (D(2026, 10, 10), "workday", "调休上班（国庆节）") in described
    assert (D(2026, 2, 15), "holiday", "春节") in described
    assert described == sorted(described)


# --- coverage --------------------------------------------------------------------------------------


def test_out_of_coverage_names_the_missing_year(calendar: WorkCalendar) -> None:
    with pytest.raises(OutOfCalendarCoverage) as info:
        calendar.nth_working_day_after(D(2026, 12, 28), 7)
    assert info.value.year == 2027
    assert "2027年" in info.value.message
    for call in (
        lambda: calendar.is_workday(D(2027, 1, 4)),
        lambda: calendar.working_days_between(D(2026, 12, 1), D(2027, 1, 4)),
        lambda: calendar.describe_year(2027),
        lambda: calendar.is_workday(D(2003, 12, 31)),
    ):
        with pytest.raises(OutOfCalendarCoverage):
            call()
    assert 2027 not in calendar.covered_years()
    assert calendar.covered_years()[0] == 2004


def test_a_loaded_notice_extends_coverage(calendar: WorkCalendar, notice_2027: YearNotice) -> None:
    extended = calendar.with_notice(notice_2027)
    # 12-29, 12-30, 12-31, then 2027: 01-01…01-03 off (example notice), 01-04 … 01-07.
    assert extended.nth_working_day_after(D(2026, 12, 28), 7) == D(2027, 1, 7)
    assert extended.is_workday(D(2027, 2, 20))  # make-up Saturday in the example
    assert not extended.is_workday(D(2027, 10, 4))
    assert 2027 in extended.covered_years()
    assert extended.version != calendar.version
    assert "示例" in notice_2027.notice_title


def test_a_loaded_year_replaces_the_library_year(calendar: WorkCalendar) -> None:
    extra_day = {"name": "国庆节", "start": "2026-10-09", "end": "2026-10-09"}
    corrected_notice = official_2026(
        holidays=[*official_2026().model_dump(mode="json")["holidays"], extra_day]
    )
    corrected = calendar.with_notice(corrected_notice)
    assert calendar.is_workday(D(2026, 10, 9))
    assert not corrected.is_workday(D(2026, 10, 9))
    assert corrected.nth_working_day_after(D(2026, 9, 29), 7) == D(2026, 10, 15)
    assert corrected.version != calendar.version
    changes = diff_notice(calendar, corrected_notice)
    assert [(c.date, c.was_workday, c.now_workday) for c in changes] == [(D(2026, 10, 9), True, False)]
    assert "由工作日改为休息日" in changes[0].description
    assert "国庆节" in changes[0].description
    assert (D(2026, 10, 9), "holiday", "国庆节") in corrected.describe_year(2026)


def test_version_is_stable_and_tracks_effective_data(notice_2027: YearNotice) -> None:
    assert WorkCalendar().version == WorkCalendar().version
    assert len(WorkCalendar().version) == 12
    assert WorkCalendar({2027: notice_2027}).version == WorkCalendar({2027: notice_2027}).version
    retitled = notice_2027.model_copy(update={"notice_title": "另一标题"})
    assert WorkCalendar({2027: retitled}).version == WorkCalendar({2027: notice_2027}).version
    assert retitled.content_version() != notice_2027.content_version()


def test_diff_for_a_new_year_lists_departures_from_monday_to_friday(
    calendar: WorkCalendar, notice_2027: YearNotice
) -> None:
    changes = {change.date: change for change in diff_notice(calendar, notice_2027)}
    assert changes[D(2027, 10, 4)].was_workday is None
    assert not changes[D(2027, 10, 4)].now_workday
    assert changes[D(2027, 10, 9)].now_workday
    assert "调休上班" in changes[D(2027, 10, 9)].description
    assert D(2027, 10, 2) not in changes  # a Saturday inside the holiday: no change from the baseline


# --- loading validation ----------------------------------------------------------------------------


def _notice_data(**changes: Any) -> dict[str, Any]:
    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "fragments"),
    [
        ({"workdays": ["2027-02-22"]}, ["2027-02-22（星期一）", "不是周末"]),
        ({"workdays": ["2026-12-27"]}, ["2026-12-27", "不在 2027 年内"]),
        (
            {"holidays": [{"name": "春节", "start": "2027-02-05", "end": "2028-01-02"}]},
            ["2028-01-02", "不在 2027 年内"],
        ),
        ({"workdays": ["2027-01-02"]}, ["2027-01-02", "同时列为放假日和调休上班日"]),
        (
            {"holidays": [{"name": "春节", "start": "2027-02-13", "end": "2027-02-05"}]},
            ["春节", "2027-02-13", "晚于"],
        ),
    ],
)
def test_invalid_notices_are_refused(changes: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_year_notice(json.dumps(_notice_data(**changes)))
    for fragment in fragments:
        assert fragment in info.value.message


def test_schema_errors_name_the_field() -> None:
    with pytest.raises(ValidationFailed, match=r"holidays\.0\.start"):
        parse_year_notice(
            json.dumps(_notice_data(holidays=[{"name": "春节", "start": "二月", "end": "2027-02-05"}]))
        )
    with pytest.raises(ValidationFailed, match="year"):
        parse_year_notice(json.dumps(_notice_data(year=20277)))


def test_malformed_json_reports_line_and_column(tmp_path: Path) -> None:
    broken = tmp_path / "2027.json"
    broken.write_text('{\n  "year": 2027,\n  "holidays": [,]\n}\n', encoding="utf-8")
    with pytest.raises(ValidationFailed, match="第 3 行第 16 列"):
        parse_year_file(broken)
    with pytest.raises(ValidationFailed, match="无法读取"):
        parse_year_file(tmp_path / "missing.json")


def test_bom_is_tolerated(tmp_path: Path) -> None:
    with_bom = tmp_path / "2027.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + EXAMPLE_2027.read_bytes())
    assert parse_year_file(with_bom).year == 2027


def test_direct_construction_validates_too() -> None:
    with pytest.raises(ValidationFailed, match="不是周末"):
        YearNotice(
            year=2027,
            holidays=[HolidayPeriod(name="元旦", start=D(2027, 1, 1), end=D(2027, 1, 1))],
            workdays=[D(2027, 1, 4)],
            notice_title="t",
            source="s",
        )
    with pytest.raises(ValidationFailed, match="不一致"):
        WorkCalendar({2026: parse_year_file(EXAMPLE_2027)})


# --- persistence -----------------------------------------------------------------------------------


@pytest.fixture
def engine() -> Iterator[Engine]:
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    SQLModel.metadata.create_all(engine, tables=[CalendarYear.__table__])  # type: ignore[list-item]
    yield engine
    engine.dispose()


def test_persistence_round_trip(engine: Engine, notice_2027: YearNotice) -> None:
    with Session(engine) as session:
        assert 2027 not in load_calendar(session=session).covered_years()
        changes, version = save_year_notice(session=session, notice=notice_2027, loaded_by="admin")
        session.commit()
    assert changes == diff_notice(WorkCalendar(), notice_2027)
    with Session(engine) as session:
        loaded = load_calendar(session=session)
        assert loaded.version == version
        assert loaded.notices == {2027: notice_2027}
        assert loaded.nth_working_day_after(D(2026, 12, 28), 7) == D(2027, 1, 7)
        assert load_calendar(session=session) is loaded  # cached while the rows are unchanged
        row = session.get(CalendarYear, 2027)
        assert row is not None
        assert (row.notice_title, row.source, row.loaded_by) == (
            notice_2027.notice_title,
            notice_2027.source,
            "admin",
        )
        assert row.version == notice_2027.content_version()
        assert row.loaded_at is not None


def test_saving_again_replaces_the_row(engine: Engine, notice_2027: YearNotice) -> None:
    with Session(engine) as session:
        save_year_notice(session=session, notice=notice_2027, loaded_by="admin")
        session.commit()
    moved = notice_2027.model_copy(update={"workdays": [*notice_2027.workdays[:-1], D(2027, 10, 10)]})
    with Session(engine) as session:
        first = load_calendar(session=session)
        changes, version = save_year_notice(session=session, notice=moved, loaded_by="reviewer")
        assert [(c.date, c.now_workday) for c in changes] == [
            (D(2027, 10, 9), False),
            (D(2027, 10, 10), True),
        ]
        session.commit()
    with Session(engine) as session:
        again = load_calendar(session=session)
        assert again is not first
        assert again.version == version != first.version
        assert again.is_workday(D(2027, 10, 10))
        assert len(session.exec(CalendarYear.__table__.select()).all()) == 1  # type: ignore[attr-defined]
        unchanged, _ = save_year_notice(session=session, notice=moved, loaded_by="reviewer")
        assert unchanged == []


def test_save_requires_a_name(engine: Engine, notice_2027: YearNotice) -> None:
    with Session(engine) as session, pytest.raises(ValidationFailed, match="载入人"):
        save_year_notice(session=session, notice=notice_2027, loaded_by="  ")

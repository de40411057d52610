"""The preview of a corrected notice calls each changed day what it is: a weekday given back after a
holiday that is withdrawn is a working day again (由假日改为工作日), not a weekend day worked in exchange
(调休上班), which only a Saturday or Sunday made a working day is."""

from __future__ import annotations

import datetime as dt
import json

from models.calendar import WorkCalendar, diff_notice, parse_year_notice
from tests.test_calendar import EXAMPLE_2027

MONDAY = dt.date(2027, 1, 4)
SATURDAY = dt.date(2027, 1, 16)


def _notice(*, holiday: dt.date | None = None, workday: dt.date | None = None) -> str:
    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    if holiday is not None:
        data["holidays"].append({"name": "更正", "start": holiday.isoformat(), "end": holiday.isoformat()})
    if workday is not None:
        data["workdays"].append(workday.isoformat())
    return json.dumps(data)


def test_a_weekday_given_back_is_a_working_day_again_and_a_weekend_worked_is_tiaoxiu() -> None:
    assert MONDAY.weekday() == 0
    assert SATURDAY.weekday() == 5
    loaded = WorkCalendar({2027: parse_year_notice(_notice(holiday=MONDAY))})
    changes = {c.date: c for c in diff_notice(loaded, parse_year_notice(_notice(workday=SATURDAY)))}

    assert set(changes) == {MONDAY, SATURDAY}
    given_back = changes[MONDAY]
    assert (given_back.was_workday, given_back.now_workday) == (False, True)
    assert "由假日改为工作日" in given_back.description
    assert "调休上班" not in given_back.description
    worked = changes[SATURDAY]
    assert (worked.was_workday, worked.now_workday) == (False, True)
    assert "由休息日改为工作日（调休上班）" in worked.description

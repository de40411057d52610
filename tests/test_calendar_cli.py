"""`shouxin calendar …` against a real SQLite file, as an administrator would run it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

from cli.calendar_cmd import app
from models.calendar import CalendarYear
from models.db import create_sqlite_file, get_engine
from models.settings import get_settings

EXAMPLE_2027 = Path(__file__).resolve().parents[1] / "docs" / "calendar-example-2027.json"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{tmp_path / 'calendar.db'}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    create_sqlite_file(get_engine().url)
    # All tables: loading a year also recomputes open pledges' publication days.
    SQLModel.metadata.create_all(get_engine())
    yield CliRunner()
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def stored_years() -> list[int]:
    with Session(get_engine()) as session:
        return list(session.exec(select(CalendarYear.year)).all())


def test_show_lists_holidays_and_the_working_day_count(runner: CliRunner) -> None:
    result = runner.invoke(app, ["show", "2026"])
    assert result.exit_code == 0, result.output
    assert "2026-10-10" in result.output
    assert "调休上班" in result.output
    assert "春节" in result.output
    assert "共 248 个工作日" in result.output


def test_show_out_of_coverage_is_one_line_and_exit_1(runner: CliRunner) -> None:
    result = runner.invoke(app, ["show", "2027"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "2027年的节假日安排尚未载入" in result.stderr


def test_nth_workday_prints_the_date_last(runner: CliRunner) -> None:
    result = runner.invoke(app, ["nth-workday", "2026-09-29", "7"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "2026-10-14"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nth-workday", "2026-12-28", "7"], "2027年"),
        (["nth-workday", "2026-02-30", "7"], "YYYY-MM-DD"),
    ],
)
def test_nth_workday_errors(runner: CliRunner, args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_load_with_yes_stores_the_year_and_extends_coverage(runner: CliRunner) -> None:
    result = runner.invoke(app, ["load", str(EXAMPLE_2027), "--yes", "--by", "admin"])
    assert result.exit_code == 0, result.output
    assert "2027-10-09" in result.stdout  # the make-up Saturday is in the diff table
    assert "已载入 2027 年节假日安排" in result.stdout
    assert stored_years() == [2027]
    after = runner.invoke(app, ["nth-workday", "2026-12-28", "7"])
    assert after.stdout.strip().splitlines()[-1] == "2027-01-07"
    shown = runner.invoke(app, ["show", "2027"])
    assert "示例" in shown.stdout


def test_load_asks_and_a_no_stores_nothing(runner: CliRunner) -> None:
    result = runner.invoke(app, ["load", str(EXAMPLE_2027)], input="n\n")
    assert result.exit_code == 1
    assert "确认载入" in result.stdout
    assert "已取消" in result.stderr
    assert stored_years() == []
    confirmed = runner.invoke(app, ["load", str(EXAMPLE_2027)], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert stored_years() == [2027]


def test_load_of_an_invalid_file_stores_nothing(runner: CliRunner, tmp_path: Path) -> None:
    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    data["workdays"] = ["2027-02-22"]
    bad = tmp_path / "2027.json"
    bad.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["load", str(bad), "--yes"])
    assert result.exit_code == 1
    assert "不是周末" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    malformed = tmp_path / "broken.json"
    malformed.write_text("{\n  year: 2027\n}", encoding="utf-8")
    result = runner.invoke(app, ["load", str(malformed), "--yes"])
    assert result.exit_code == 1
    assert "第 2 行" in result.stderr
    assert stored_years() == []


def test_reloading_a_year_shows_only_the_changed_days(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(app, ["load", str(EXAMPLE_2027), "--yes"])
    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    data["holidays"].append({"name": "国庆节", "start": "2027-10-08", "end": "2027-10-08"})
    corrected = tmp_path / "2027-corrected.json"
    corrected.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["load", str(corrected), "--yes"])
    assert result.exit_code == 0, result.output
    assert "2027-10-08" in result.stdout
    assert "2027-10-04" not in result.stdout
    assert "1 天有变化" in result.stdout
    assert stored_years() == [2027]

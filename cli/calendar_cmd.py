"""`shouxin calendar …`: inspect the working-day calendar and load a State Council holiday notice."""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from cli.operator import operator_name
from models.calendar import DayChange, diff_notice, load_calendar, parse_year_file
from models.calendar_admin import YearLoad, load_year_notice, year_loads, year_version
from models.clock import Clock
from models.db import session_scope
from models.errors import DomainError
from models.pending_deadlines import calendar_warning, pending_counts
from models.settings import get_settings
from models.workflow import Actor

SYSTEM = Actor.system()  # pledges' publication days follow the calendar

app = typer.Typer(
    name="calendar",
    help="工作日日历：查看年度节假日安排、载入国务院办公厅放假通知、计算第 N 个工作日",
    no_args_is_help=True,
)
console = Console()
F = TypeVar("F", bound=Callable[..., Any])

_WEEKDAYS = "一二三四五六日"
_KIND_LABELS = {"holiday": "放假", "workday": "调休上班"}


def _fail(message: str) -> None:
    # One line on stderr, like cli.main.fail (not imported: cli.main imports this module).
    print(f"错误: {' '.join(message.split())}", file=sys.stderr)
    raise typer.Exit(1)


def _reported(func: F) -> F:
    """A refusal as one line when this group runs on its own (tests); under `shouxin` the root command
    reports it the same way, and the database's errors too (cli.main.OneLineErrors)."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DomainError as exc:
            _fail(exc.message)

    return wrapper  # type: ignore[return-value]


def _changes_table(changes: list[DayChange]) -> Table:
    table = Table("日期", "星期", "原状态", "新状态", "说明", title="载入后的变化")
    for change in changes:
        before = "未覆盖" if change.was_workday is None else "工作日" if change.was_workday else "休息日"
        table.add_row(
            change.date.isoformat(),
            f"星期{_WEEKDAYS[change.date.weekday()]}",
            before,
            "工作日" if change.now_workday else "休息日",
            change.description.split("：", 1)[-1],
        )
    return table


def _loaded(load: YearLoad | None) -> str:
    """When a year's notice was loaded: first (its days known since; a correction keeps it) and, if the
    stored notice is a correction, when and by whom, in the configured zone."""
    if load is None:
        return ""
    zone = ZoneInfo(get_settings().timezone)
    first = load.first_loaded_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    if load.corrected_at is None:
        return f"（首次载入 {first}，载入人 {load.loaded_by}）"
    corrected = load.corrected_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return f"（首次载入 {first}，{corrected} 由 {load.loaded_by} 更正）"


@app.command("show")
@_reported
def show(year: int = typer.Argument(..., help="年份，如 2026")) -> None:
    """列出某年的放假日与调休上班日，以及全年工作日天数。"""
    with session_scope() as session:
        calendar = load_calendar(session=session)
        load = year_loads(session=session).get(year)
    days = calendar.describe_year(year)
    notice = calendar.notices.get(year)
    source = "chinese_calendar 内置数据"
    if notice is not None:
        source = f"已载入通知：{notice.notice_title}（{notice.source}）{_loaded(load)}"
    table = Table("日期", "星期", "类型", "名称", title=f"{year} 年节假日安排", caption=source)
    for day in days:
        table.add_row(
            day.date.isoformat(), f"星期{_WEEKDAYS[day.date.weekday()]}", _KIND_LABELS[day.kind], day.name
        )
    console.print(table)
    count = calendar.working_days_in_year(year)
    console.print(f"{year} 年共 {count} 个工作日（日历版本 {calendar.version}）")


@app.command("load")
@_reported
def load(
    file: Path = typer.Argument(..., help="年度节假日 JSON 文件，格式见 docs/calendar-example-2027.json"),
    yes: bool = typer.Option(False, "--yes", "-y", help="不询问，直接载入"),
    loaded_by: str = typer.Option(None, "--by", help="载入人（默认为当前系统用户）"),
) -> None:
    """校验并载入一年的放假通知；先显示与当前日历的差异，确认后保存。"""
    notice = parse_year_file(file)
    with session_scope() as session:
        current = load_calendar(session=session)
    preview = diff_notice(current, notice)
    previewed = year_version(current, notice.year)
    console.print(f"{notice.year} 年：{notice.notice_title}（{notice.source}）")
    if preview:
        console.print(_changes_table(preview))
    else:
        console.print("与当前日历相比，没有哪一天的工作日状态发生变化。")
    if not yes and not typer.confirm(f"确认载入 {notice.year} 年节假日安排？", default=False):
        _fail("已取消，未作任何更改 (cancelled; nothing stored)")
    with session_scope() as session:
        # Refused (Conflict) when someone loaded another notice for this year after the preview.
        changes, version, recomputed = load_year_notice(
            session=session,
            notice=notice,
            loaded_by=loaded_by or operator_name(),
            actor=SYSTEM,
            previewed=previewed,
        )
    console.print(f"已载入 {notice.year} 年节假日安排，{len(changes)} 天有变化；日历版本 {version}")
    if recomputed.publication_days or recomputed.deadlines_total:
        console.print(
            f"已重新计算 {recomputed.publication_days} 件告知承诺的公示日，"
            f"确定或调整 {recomputed.deadlines_total} 个办理期限（待定的或因更正而变的，均已记入审计）"
        )


@app.command("status")
@_reported
def status() -> None:
    """列出日历覆盖的年份、已载入的通知，以及等待日历确定的期限与公示日；临近年底未载入次年时给出提醒。"""
    with session_scope() as session:
        calendar = load_calendar(session=session)
        counts = pending_counts(session=session)
        loads = year_loads(session=session)
        today = Clock.from_settings().today()
    years = calendar.covered_years()
    loaded = calendar.notices
    console.print(f"日历版本 {calendar.version}；覆盖 {years[0]}–{years[-1]} 年（今天 {today.isoformat()}）")
    for year in sorted(loaded):
        console.print(f"  {year} 年：已载入通知 {loaded[year].notice_title}{_loaded(loads.get(year))}")
    following = today.year + 1
    covered = "已覆盖" if calendar.covers(following) else "未载入"
    console.print(f"{following} 年节假日安排：{covered}")
    table = Table("类别", "件数", title="待日历确定（载入相应年份后自动计算并记入审计）")
    for item in counts:
        table.add_row(item.label, str(item.count))
    console.print(table)
    warning = calendar_warning(calendar, today)
    if warning:
        console.print(f"提醒：{warning}")


@app.command("nth-workday")
@_reported
def nth_workday(
    date: str = typer.Argument(..., help="起算日期，如 2026-09-29（不计当天）"),
    n: int = typer.Argument(..., min=1, help="第几个工作日"),
) -> None:
    """计算某日之后（不含当天）的第 N 个工作日；最后一行只输出该日期。"""
    try:
        start = dt.date.fromisoformat(date)
    except ValueError:
        _fail(f"日期“{date}”格式不正确；请写成 YYYY-MM-DD，如 2026-09-29 (invalid date)")
        return
    with session_scope() as session:
        calendar = load_calendar(session=session)
    result = calendar.nth_working_day_after(start, n)
    console.print(f"{start.isoformat()} 之后第 {n} 个工作日（日历版本 {calendar.version}）：")
    print(result.isoformat())

"""`shouxin pledges import FILE` and `shouxin sweep`: bulk import of pledges, and the pledge sweep
(the same steps as the ``publish_breaches`` flow, run in this process without a Prefect server)."""

from __future__ import annotations

import csv
import datetime as dt
import os
import sys
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session

from cli.embedded import running_prefect_server
from models.calendar import load_calendar
from models.clock import Clock
from models.db import get_engine
from models.errors import DomainError
from models.lifecycle import Role
from models.pledges.import_rows import estimate_rows, read_import_file
from models.pledges.importing import ImportReport, import_pledges
from models.privacy import neutralise
from models.publication import STEP_LABELS
from models.publication import sweep as run_sweep
from models.workflow import Actor

app = typer.Typer(help="告知承诺：批量导入", no_args_is_help=True)
console = Console()


def _fail(message: str) -> NoReturn:
    print(f"错误: {' '.join(message.split())}", file=sys.stderr)
    raise typer.Exit(1)


@app.command("import")
def import_file(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV（UTF-8）或 XLSX 文件"),
    authority: str | None = typer.Option(None, "--authority", help="文件中未填部门代码时使用的部门代码"),
    codes_out: Path | None = typer.Option(
        None,
        "--codes-out",
        dir_okay=False,
        help="无可用邮箱或短信的承诺人的办理码写入此 CSV 文件（须书面告知）",
    ),
) -> None:
    """导入承诺：正确的行导入，错误的行逐行报告（行号、列、原因）；有错误行时退出码为 1。"""
    if codes_out is not None:
        # The codes exist only in this run's output: a file that cannot be written is found out before the
        # import commits, not after (a re-run imports nothing, "已导入过", and prints no codes).
        _check_writable(codes_out)
    try:
        content = file.read_bytes()
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        with progress, Session(get_engine(), expire_on_commit=False) as session:
            # The bar's total is a CSV's line count until the exact count is known at the end. The same
            # service as the import_pledges flow, here in this process and in one transaction.
            task = progress.add_task("校验并导入", total=estimate_rows(content, file.name))
            report = import_pledges(
                session=session,
                rows=read_import_file(content, file.name),
                actor=Actor(name=f"批量导入（{file.name}）", role=Role.ADMIN),
                source_name=file.name,
                today=Clock.from_settings().today(),
                calendar=load_calendar(session=session),
                default_authority=authority,
                after_chunk=lambda so_far: progress.update(task, completed=so_far.total),
            )
            session.commit()
            progress.update(task, total=report.total, completed=report.total)
    except DomainError as exc:
        _fail(exc.message)
        return
    _print_report(report)
    _offline_codes(report, codes_out)
    if report.all_errors:
        raise typer.Exit(1)


def _check_writable(path: Path) -> None:
    """Open ``path`` for writing without changing it (a file made for the check is removed again), or stop
    with the reason on one line."""
    existed = path.exists()
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        _fail(
            f"无法写入办理码文件 {path}：{exc.strerror}；请指定已存在且可写的目录中的文件，未导入任何承诺 "
            f"(cannot write --codes-out {path}: {exc.strerror}; nothing imported)"
        )
    if not existed:
        path.unlink()


def _offline_codes(report: ImportReport, path: Path | None) -> None:
    """Pledgors their registration notice reaches by neither e-mail nor SMS get their access code on the
    printed notice, from staff."""
    if not report.offline_codes:
        return
    header = ("承诺编号", "承诺人名称", "办理码")
    rows = [(c["number"], c["pledgor_name"], c["access_code"]) for c in report.offline_codes]
    if path is None:
        _print_codes(header, rows)
        return
    try:
        _write_codes(path, header, rows)
    except OSError as exc:
        # The pledges are committed: the codes go to the terminal rather than nowhere.
        _print_codes(header, rows)
        _fail(
            f"办理码文件 {path} 写入失败：{exc.strerror}；承诺已导入，办理码已显示在上方，请妥善保存 "
            f"(could not write {path}: the codes are printed above)"
        )
    console.print(f"{len(rows)} 位承诺人无可用邮箱或短信，办理码已写入 {path}：请随告知书书面送达")


def _print_codes(header: tuple[str, ...], rows: list[tuple[str, str, str]]) -> None:
    table = Table(*header, title=f"{len(rows)} 位承诺人无可用邮箱或短信：请将办理码随告知书书面送达")
    for row in rows:
        # Names come from the imported file: a "[red]" in one is text, not rich markup.
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)


def _write_codes(path: Path, header: tuple[str, ...], rows: list[tuple[str, str, str]]) -> None:
    # Secrets: readable by the owner only, whatever the umask or the mode of a file written over.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with open(fd, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(header)
        # Names come from the imported file: neutralised, as the web download does, so a spreadsheet
        # never runs one as a formula (a HYPERLINK could send the row's access code away).
        writer.writerows(tuple(neutralise(cell) for cell in row) for row in rows)


def _print_report(report: ImportReport) -> None:
    console.print(
        f"{report.source}：共 {report.total} 行，导入 {report.imported} 行，"
        f"已导入过 {report.already_imported} 行，错误 {report.failed_rows} 行"
    )
    if report.all_errors:
        table = Table("行号", "列", "原因", title="错误明细（这些行未导入，修改后可重新导入整个文件）")
        for error in report.all_errors:
            table.add_row(str(error.row), escape(error.column), escape(error.message))
        console.print(table)


def _sweep_without_prefect(today: dt.date, dry_run: bool) -> dict[str, int]:
    try:
        report = run_sweep(engine=get_engine(), today=today, actor=Actor.system(), dry_run=dry_run)
    except DomainError as exc:
        _fail(exc.message)
    for step, message in report.refused.items():
        console.print(f"[yellow]{STEP_LABELS.get(step, step)}未执行：{message}[/yellow]")
    return dict(report.counts)


def sweep(
    as_of: dt.datetime | None = typer.Option(
        None, "--as-of", formats=["%Y-%m-%d"], help="按此日期巡检（补跑、演练）"
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="只统计将发生的操作，不写入"),
    no_prefect: bool = typer.Option(
        False,
        "--no-prefect",
        help="不经 Prefect 直接执行同一服务（Prefect 不可用时的应急手段；不记录 flow-run id）",
    ),
) -> None:
    """承诺巡检：标记逾期、预警、提醒，并公示到达第 N 个工作日仍未履约的承诺。"""
    today = as_of.date() if as_of else Clock.from_settings().today()
    if no_prefect:
        counts = _sweep_without_prefect(today, dry_run)
    else:
        with running_prefect_server(console):
            from flows.publish_breaches import publish_breaches

            try:
                counts = publish_breaches(as_of=today, dry_run=dry_run)
            except DomainError as exc:
                _fail(exc.message)
                return
    table = Table(
        "步骤", "数量", title=f"承诺巡检 {today.isoformat()}{'（演练，未写入）' if dry_run else ''}"
    )
    for step, done in counts.items():
        table.add_row(STEP_LABELS.get(step, step), str(done))
    console.print(table)

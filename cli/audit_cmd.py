"""`shouxin audit verify`, `shouxin backup FILE` and `shouxin restore FILE`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from sqlmodel import Session

from models.audit_verify import verify_audit
from models.backup import backup as run_backup
from models.backup import restore as run_restore
from models.db import get_engine
from models.errors import NotFound, ValidationFailed
from models.settings import get_settings

app = typer.Typer(help="审计记录核验", no_args_is_help=True)
CASE_KINDS = ("complaint", "pledge", "breach")
console = Console()


@app.command("verify")
def verify(
    kind: str | None = typer.Option(None, "--kind", help="只核验一类案件：complaint / pledge / breach"),
    case: int | None = typer.Option(
        None,
        "--case",
        help="只核验 ID 为此值的案件；不加 --kind 时投诉、承诺、失信记录中该 ID 的案件都核验",
    ),
) -> None:
    """核验审计哈希链：报告被篡改、删除或调换顺序的事件；有问题时退出码为 1。"""
    # A mistyped filter matches nothing, and nothing verified must not read as "chain intact".
    if kind is not None and kind not in CASE_KINDS:
        raise ValidationFailed(
            f"--kind 只能是 {' / '.join(CASE_KINDS)}，而不是 {kind!r} (unknown case kind {kind!r})"
        )
    with Session(get_engine()) as session:
        report = verify_audit(session=session, kind=kind, case_id=case)
    if case is not None and report.cases == 0:
        of_kind = f"（{kind}）" if kind else ""
        raise NotFound(
            f"没有案件 #{case}{of_kind}的审计事件；请检查案件 ID (no audit events for case {case})"
        )
    for line in report.lines():
        print(line)
    if not report.ok:
        raise typer.Exit(1)


def backup(file: Path = typer.Argument(..., dir_okay=False, help="备份文件路径")) -> None:
    """在线备份 SQLite 数据库（服务可继续运行）。"""
    path = run_backup(database_url=get_settings().database_url, target=file)
    console.print(f"已备份到 {path}")


def restore(
    file: Path = typer.Argument(..., dir_okay=False, help="由 `shouxin backup` 生成的备份文件"),
    yes: bool = typer.Option(False, "--yes", help="确认覆盖现有数据库"),
) -> None:
    """从备份恢复 SQLite 数据库；覆盖现有数据库须加 --yes。旧版本程序的备份在恢复时升级到当前数据库结构。
    恢复后建议运行 `shouxin audit verify`。"""
    get_engine().dispose()
    restored = run_restore(source=file, database_url=get_settings().database_url, overwrite=yes)
    if restored.backup_revision != restored.revision:
        console.print(
            f"备份的数据库结构版本为 {restored.backup_revision}，已升级到 {restored.revision} "
            f"(backup upgraded from {restored.backup_revision} to {restored.revision})"
        )
    console.print(f"已从 {file} 恢复到 {restored.path}")

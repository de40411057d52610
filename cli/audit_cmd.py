"""`shouxin audit verify`, `shouxin backup FILE` and `shouxin restore FILE`."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from sqlmodel import Session

from models.audit_verify import verify_audit
from models.backup import backup as run_backup
from models.backup import restore as run_restore
from models.db import get_engine
from models.errors import DomainError
from models.settings import get_settings

app = typer.Typer(help="审计记录核验", no_args_is_help=True)
console = Console()


@app.command("verify")
def verify(
    kind: str | None = typer.Option(None, "--kind", help="只核验一类案件：complaint / pledge / breach"),
    case: int | None = typer.Option(None, "--case", help="只核验一个案件（案件 ID）"),
) -> None:
    """核验审计哈希链：报告被篡改、删除或调换顺序的事件；有问题时退出码为 1。"""
    with Session(get_engine()) as session:
        report = verify_audit(session=session, kind=kind, case_id=case)
    for line in report.lines():
        print(line)
    if not report.ok:
        raise typer.Exit(1)


def backup(file: Path = typer.Argument(..., dir_okay=False, help="备份文件路径")) -> None:
    """在线备份 SQLite 数据库（服务可继续运行）。"""
    try:
        path = run_backup(database_url=get_settings().database_url, target=file)
    except DomainError as exc:
        print(f"错误: {exc.message}", file=sys.stderr)
        raise typer.Exit(1) from None
    console.print(f"已备份到 {path}")


def restore(
    file: Path = typer.Argument(..., dir_okay=False, help="由 `shouxin backup` 生成的备份文件"),
    yes: bool = typer.Option(False, "--yes", help="确认覆盖现有数据库"),
) -> None:
    """从备份恢复 SQLite 数据库；覆盖现有数据库须加 --yes。恢复后建议运行 `shouxin audit verify`。"""
    get_engine().dispose()
    try:
        path = run_restore(source=file, database_url=get_settings().database_url, overwrite=yes)
    except DomainError as exc:
        print(f"错误: {exc.message}", file=sys.stderr)
        raise typer.Exit(1) from None
    console.print(f"已从 {file} 恢复到 {path}")

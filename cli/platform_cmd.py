"""`shouxin platform …`: the credit-platform documents by state, the reason of the last failure, retry,
settle by hand, push now, and the alarms (unacknowledged past the deadline, no platform configured)."""

from __future__ import annotations

import typer
from rich.console import Console

from cli.operator import operator_name
from cli.tables import folded, table, whole
from models.calendar import load_calendar
from models.clock import Clock, utcnow
from models.db import get_engine, session_scope
from models.platform import STATUS_LABELS, DocumentStatus
from models.platform_admin import (
    list_documents,
    mark_handled,
    platform_alarms,
    retry_document,
    status_counts,
    unconfigured,
)
from models.settings import get_settings
from notifications.platform_push import push_due

app = typer.Typer(help="信用平台推送文档", no_args_is_help=True)
console = Console()


@app.command("list")
def list_cmd(
    status: DocumentStatus | None = typer.Option(None, help="pending / sent / acknowledged / dead / handled"),
    limit: int = typer.Option(50, min=1, help="条数"),
) -> None:
    """按状态列出推送文档（最新在前），含回执编号和最后一次失败原因。"""
    # The document id is what `retry` takes, the type, status and attempts a word or two: never cut, however
    # narrow the console (a pipe is 80 columns). The receipt number and the reason give way, folded, not cut.
    with session_scope() as session:
        counts = status_counts(session=session)
        listed = table(
            whole("文档编号"),
            whole("类型"),
            whole("状态"),
            whole("次数"),
            folded("回执编号"),
            folded("最后错误"),
            rows=[
                (
                    d.document_id,
                    d.kind.value,
                    STATUS_LABELS[d.status],
                    str(d.attempts),
                    d.receipt_id or "",
                    (d.last_error or "")[:60],
                )
                for d in list_documents(session=session, status=status, limit=limit)
            ],
        )
    console.print("　".join(f"{STATUS_LABELS[s]} {n}" for s, n in counts.items()))
    console.print(listed)


@app.command("retry")
def retry_cmd(document_id: str = typer.Argument(..., help="文档编号，如 SX-2026-000001:publish")) -> None:
    """把一份失败、推送后未回执或等待重试的文档重新放回待推送，立即推送。"""
    with session_scope() as session:
        retry_document(session=session, document_id=document_id)
    console.print(f"文档 {document_id} 已重新排队")


@app.command("handled")
def handled_cmd(
    document_id: str = typer.Argument(..., help="文档编号，如 SX-2026-000001:publish"),
    by: str = typer.Option(None, "--by", help="处理人（默认为当前系统用户）"),
    note: str = typer.Option(..., "--note", help="如何已向信用平台报送"),
) -> None:
    """平台始终拒收或始终不回执时：将该文档标记为已人工处理，不再推送，同一失信记录此后的文档继续推送。"""
    # A refusal (no such document, not failed, no note) is one line on stderr by the root command's handler.
    with session_scope() as session:
        mark_handled(
            session=session, document_id=document_id, note=note, by=by or operator_name(), now=utcnow()
        )
    console.print(f"文档 {document_id} 已标记为已人工处理")


@app.command("push")
def push_cmd() -> None:
    """立即推送到期的文档（不经 Prefect，用于排障）；未配置平台时以非零状态退出。"""
    # Refused here before push_due, which would log the same alarm as a second line.
    if unconfigured():
        _fail_unconfigured()
    if get_settings().credit_platform_unsigned:
        _fail_unsigned()
    report = push_due(engine=get_engine())
    console.print(
        f"已推送 {report.sent}（已回执 {report.acknowledged}），待重试 {report.retried}，失败 {report.dead}"
    )
    if report.unconfigured:
        _fail_unconfigured()


# One wording for the CLI's refusal and its alarm.
UNSIGNED = (
    "已配置信用平台地址但未配置密钥 SHOUXIN_CREDIT_PLATFORM_SECRET，"
    "文档不推送（不发送未签名的文档），滞留待推送"
)


def _fail_unsigned() -> None:
    typer.echo(f"错误: {UNSIGNED}", err=True)
    raise typer.Exit(1)


def _fail_unconfigured() -> None:
    typer.echo("错误: 未配置信用平台地址 SHOUXIN_CREDIT_PLATFORM_URL，文档滞留待推送", err=True)
    raise typer.Exit(1)


@app.command("alarms")
def alarms_cmd() -> None:
    """告警：超过回执期限（默认 7 个工作日）仍未回执的文档，未配置平台或其密钥；有告警时以非零状态退出。"""
    with session_scope() as session:
        alarms = platform_alarms(
            session=session, today=Clock.from_settings().today(), calendar=load_calendar(session=session)
        )
        for d in alarms.overdue:
            console.print(f"超期未回执：{d.document_id}（{STATUS_LABELS[d.status]}）{d.last_error or ''}")
    if alarms.unconfigured:
        console.print("未配置信用平台地址 SHOUXIN_CREDIT_PLATFORM_URL：文档滞留待推送")
    if alarms.unsigned:
        console.print(UNSIGNED)
    if alarms.any:
        raise typer.Exit(1)
    console.print(f"无告警（回执期限 {alarms.working_days} 个工作日）")

"""`shouxin notifications …`: see the outbox, retry a dead message, deliver now."""

from __future__ import annotations

import typer
from rich.console import Console

from cli.tables import folded, table, whole
from models.db import session_scope
from models.outbox import NotificationStatus
from notifications.outbox_service import list_notifications, retry_dead

app = typer.Typer(help="通知邮件（发件箱）", no_args_is_help=True)
console = Console()


@app.command("list")
def list_cmd(
    status: NotificationStatus | None = typer.Option(None, help="pending / sent / dead / undeliverable"),
    limit: int = typer.Option(50, min=1, help="条数"),
    provider_id: str | None = typer.Option(
        None, "--provider-id", help="短信服务商消息编号（阿里云 BizId 或网关 message_id），完全一致"
    ),
    case: str | None = typer.Option(None, "--case", help="案件编号，完全一致"),
) -> None:
    """列出通知；可按短信服务商消息编号或案件编号查找。"""
    # The id is what `retry` takes, the case number what staff look up, the status and attempts a word:
    # never cut, however narrow the console (a pipe is 80 columns). The template, recipient, address,
    # provider id and reason give way, folded, not cut: an id quoted to a provider must be whole.
    with session_scope() as session:
        listed = table(
            whole("ID"),
            whole("案件"),
            folded("模板"),
            folded("收件人"),
            folded("地址"),
            whole("状态"),
            whole("次数"),
            folded("服务商消息编号"),
            folded("最后错误"),
            rows=[
                (
                    str(n.id),
                    n.case_number or "",
                    n.template,
                    n.recipient_name,
                    f"短信 {n.recipient_phone}" if n.channel == "sms" else n.recipient_email or "",
                    n.status,
                    str(n.attempts),
                    n.provider_message_id or "",
                    (n.last_error or "")[:60],
                )
                for n in list_notifications(
                    session=session,
                    status=status,
                    limit=limit,
                    provider_message_id=provider_id,
                    case_number=case,
                )
            ],
        )
    console.print(listed)


@app.command("retry")
def retry_cmd(notification_id: int = typer.Argument(..., help="通知 ID")) -> None:
    """把一条失败（dead）的通知重新放回待发送。"""
    with session_scope() as session:
        retry_dead(session=session, notification_id=notification_id)
    console.print(f"通知 #{notification_id} 已重新排队")


@app.command("deliver")
def deliver_cmd() -> None:
    """立即投递到期的通知（不经 Prefect，用于排障）。"""
    from flows.deliver_notifications import deliver_due

    console.print(f"投递结果：{deliver_due()}")

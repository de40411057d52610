"""`shouxin hotline …`: the 12345 platform's token, and the results sent back to it (list, retry, settle
by hand, push)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from cli.operator import operator_name
from cli.tables import folded, table, whole
from models.accounts import create_machine_user
from models.clock import utcnow
from models.db import get_engine, session_scope
from models.hotline import HotlineMessage, HotlineMessageStatus
from models.hotline_admin import list_messages, mark_handled, retry_all_dead, retry_dead, waiting_behind
from models.lifecycle import Role
from models.settings import get_settings

app = typer.Typer(help="12345 工单对接：平台令牌、结果回传", no_args_is_help=True)
console = Console()


@app.command("token")
def token_cmd(name: str = typer.Option("12345热线平台", "--name", help="账号名称")) -> None:
    """为 12345 平台创建对接账号并打印其令牌（最后一行，仅显示一次；只能调用工单接入接口）。"""
    with session_scope() as session:
        user, token = create_machine_user(session=session, name=name, role=Role.HOTLINE)
        console.print(f"已创建对接账号 #{user.id} {user.name}（{user.role}），令牌仅显示一次：")
    print(token)


@app.command("list")
def list_cmd(
    status: HotlineMessageStatus | None = typer.Option(None, help="pending / sent / dead / handled"),
    order_id: str | None = typer.Option(None, "--order-id", help="只列出该 12345 工单编号的消息"),
    limit: int = typer.Option(50, min=1, help="条数（最新的在前）"),
) -> None:
    """列出回传给 12345 平台的消息：待发送的注明下次发送时间，或排在哪条消息之后。"""
    # The id is what `retry` takes, the message number what the platform is asked about, the stage, status
    # and attempts a word or two: never cut, however narrow the console (a pipe is 80 columns). The order
    # number (up to 64 characters) and the last column give way, folded, not cut; a third folded column
    # would squeeze the order number off its line, so when a pending message goes shares the reason's.
    with session_scope() as session:
        messages = list_messages(session=session, status=status, order_id=order_id, limit=limit)
        behind = waiting_behind(session=session, messages=messages)
        listed = table(
            whole("ID"),
            whole("消息编号"),
            folded("工单编号"),
            whole("阶段"),
            whole("状态"),
            whole("次数"),
            folded("下次发送 / 最后错误"),
            rows=[
                (
                    str(m.id),
                    m.message_id,
                    str(m.payload.get("order_id") or ""),
                    m.stage,
                    m.status,
                    str(m.attempts),
                    _next_and_error(m, behind.get(m.id or 0)),
                )
                for m in messages
            ],
        )
    console.print(listed)


def _next_and_error(message: HotlineMessage, blocker: HotlineMessage | None) -> str:
    """A pending message's turn (after the earlier one of its case it waits for, or its next attempt's
    time), then why its last attempt failed."""
    error = (message.last_error or "")[:60]
    if message.status != HotlineMessageStatus.PENDING:
        return error
    if blocker is not None:
        why = "失败，待管理员处理" if blocker.status == HotlineMessageStatus.DEAD else "待发送"
        turn = f"暂缓：排在 #{blocker.id}（{why}）之后"
    else:
        zone = ZoneInfo(get_settings().timezone)
        turn = "下次发送 " + message.next_attempt_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    return f"{turn}；{error}" if error else turn


@app.command("retry")
def retry_cmd(
    message_id: int | None = typer.Argument(None, help="消息 ID（见 shouxin hotline list --status dead）"),
    all_dead: bool = typer.Option(False, "--all-dead", help="重发全部失败（dead）的消息，如平台停机恢复后"),
) -> None:
    """把失败（dead）的回传消息重新放回待发送：指定一条的 ID，或 --all-dead 全部。"""
    if (message_id is None) == (not all_dead):
        _fail("请指定一条消息的 ID，或使用 --all-dead 重发全部失败的消息（二者选一）")
    with session_scope() as session:
        if message_id is None:
            count = retry_all_dead(session=session, now=utcnow())
            console.print(f"已将 {count} 条失败的回传消息重新排队")
            return
        retry_dead(session=session, message_id=message_id, now=utcnow())
    console.print(f"回传消息 #{message_id} 已重新排队")


@app.command("handled")
def handled_cmd(
    message_id: int = typer.Argument(..., help="消息 ID（见 shouxin hotline list --status dead）"),
    by: str = typer.Option(None, "--by", help="处理人（默认为当前系统用户）"),
    note: str = typer.Option(..., "--note", help="如何已在 12345 系统中处理"),
) -> None:
    """平台始终拒收时：将失败（dead）的消息标记为已人工处理，不再发送，同一投诉此后的消息继续发送。"""
    # A refusal (no such message, not dead, no note) is one line on stderr by the root command's handler.
    with session_scope() as session:
        mark_handled(
            session=session, message_id=message_id, note=note, by=by or operator_name(), now=utcnow()
        )
    console.print(f"回传消息 #{message_id} 已标记为已人工处理")


@app.command("push")
def push_cmd() -> None:
    """立即回传到期的消息（不经 Prefect，用于排障）；未配置 12345 平台时以非零状态退出。"""
    from notifications.hotline_push import push_due

    # Refused here before push_due, which would log the missing secret as a second line.
    settings = get_settings()
    if not settings.hotline_url:
        _fail("未配置 12345 平台地址 SHOUXIN_HOTLINE_URL，回传消息滞留待发送；请设置后重试 (no hotline URL)")
    if not settings.hotline_secret:
        _fail(_UNSIGNED)
    report = push_due(engine=get_engine())
    console.print(
        f"已回传 {report.sent}，待重试 {report.retried}，失败 {report.dead}，"
        f"因同一投诉的前一条失败而暂缓 {report.held}"
    )
    if report.skipped or report.unsigned:  # the settings changed under the run
        _fail(_UNSIGNED if report.unsigned else "未配置 12345 平台地址 SHOUXIN_HOTLINE_URL (no hotline URL)")


_UNSIGNED = (
    "已配置 SHOUXIN_HOTLINE_URL 但未配置 SHOUXIN_HOTLINE_SECRET：回传消息不签名就不发送，滞留待发送；"
    "请设置密钥后重试 (hotline URL set without a secret: nothing sent)"
)


def _fail(message: str) -> None:
    typer.echo(f"错误: {message}", err=True)
    raise typer.Exit(1)

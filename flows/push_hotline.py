"""Every minute: send the 12345 platform the stage changes of the cases it handed in (accepted, not
accepted, merged, dispatched, returned, replied, redone, closed, reopened), signed, ``Idempotency-Key`` =
message id, in the order written per case. Failures stay in the outbox with back-off (dead after the last
attempt, for `shouxin hotline retry`), so the flow itself never retries; nothing is sent while no hotline
URL is configured, nor while the URL has no secret to sign with (an error in the log)."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from models.db import get_engine
from notifications.hotline_push import push_due


@task(name="push-hotline-messages")
def push() -> dict[str, int]:
    report = push_due(engine=get_engine())
    return {
        "sent": report.sent,
        "retried": report.retried,
        "dead": report.dead,
        "held": report.held,
        "skipped": int(report.skipped),
        "unsigned": int(report.unsigned),
    }


@flow(name="push_hotline")
def push_hotline() -> dict[str, int]:
    """Push what is due; returns counts (sent, retried, dead, held, skipped, unsigned)."""
    counts = push()
    if counts["unsigned"]:
        get_run_logger().error("12345 结果回传未发送：缺少 SHOUXIN_HOTLINE_SECRET (hotline secret missing)")
    else:
        get_run_logger().info("12345 结果回传：%s", counts)
    return counts

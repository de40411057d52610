"""Every minute: deliver pending publication, correction, withdrawal, repair and expiry documents to the
credit platform (signed JSON, ``Idempotency-Key`` = document id; one record's in the order written).
Failures stay in the outbox with back-off, so the flow itself never retries; nothing happens while no
platform URL is configured."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from models.db import get_engine
from notifications.platform_push import push_due


@task(name="push-due-documents")
def push() -> dict[str, int]:
    report = push_due(engine=get_engine())
    return {
        "sent": report.sent,
        "retried": report.retried,
        "dead": report.dead,
        "skipped": int(report.skipped),
    }


@flow(name="push_platform")
def push_platform() -> dict[str, int]:
    """Push what is due; returns counts (sent, retried, dead, skipped)."""
    counts = push()
    get_run_logger().info("信用平台推送：%s", counts)
    return counts

"""Every minute: deliver pending publication, correction, withdrawal, repair and expiry documents to the
credit platform (signed JSON, ``Idempotency-Key`` = document id; one record's in the order written).
A delivery is done when the platform answers with a receipt id; sent documents without one are asked
about again. Failures stay in the outbox with back-off, so the flow itself never retries. With no platform
URL nothing is sent: a skip in demo mode, otherwise an alarm (``unconfigured`` in the counts, an error in
the log; documents stay pending). While SHOUXIN_PUBLISH_GOVERNMENT_BREACHES is off, government records'
documents wait, and those the platform shows are withdrawn from it (``government`` in the counts)."""

from __future__ import annotations

from prefect import flow, get_run_logger, task

from models.db import get_engine
from notifications.platform_push import push_due


@task(name="push-due-documents")
def push() -> dict[str, int]:
    report = push_due(engine=get_engine())
    return {
        "sent": report.sent,
        "acknowledged": report.acknowledged,
        "retried": report.retried,
        "dead": report.dead,
        "skipped": int(report.skipped),
        "unconfigured": int(report.unconfigured),
        "unsigned": int(report.unsigned),
        "government": report.government,
    }


@flow(name="push_platform")
def push_platform() -> dict[str, int]:
    """Push what is due; returns counts (sent, acknowledged, retried, dead, skipped, unconfigured,
    unsigned, and government: documents written to follow SHOUXIN_PUBLISH_GOVERNMENT_BREACHES)."""
    counts = push()
    logger = get_run_logger()
    if counts["unconfigured"]:
        logger.error("信用平台未配置（SHOUXIN_CREDIT_PLATFORM_URL），文档滞留待推送：%s", counts)
    elif counts["unsigned"]:
        logger.error("信用平台未配置签名密钥（SHOUXIN_CREDIT_PLATFORM_SECRET），文档滞留待推送：%s", counts)
    else:
        logger.info("信用平台推送：%s", counts)
    return counts

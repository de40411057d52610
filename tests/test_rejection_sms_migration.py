"""Migration 0025 gives the evidence-rejected notices still queued the by-when their SMS now states: rendered
without it, a text queued before the change would be a dead letter."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from models.db import make_engine
from models.schema import alembic_config
from notifications.sms import render_sms
from tests.test_outbox_secrets_migration import _row, notification

BEFORE = "0024_department_successor"
REJECTED = {
    "pledge_number": "CN-2026-000007", "pledgor_name": "示范公司", "matter": "施工许可",
    "obligation": "施工图审查合格书", "deadline": "2026-04-30", "reason": "未盖章", "rescheduled": True,
}  # fmt: skip


def test_queued_rejection_texts_get_their_by_when_and_render(empty_database: str) -> None:
    engine = make_engine(empty_database)
    cfg = alembic_config(empty_database)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, BEFORE)
        dated = {**REJECTED, "publication_day": "2026-05-18"}
        conn.execute(
            sa.insert(notification),
            [
                {**_row("dated", "pledge_evidence_rejected", "PENDING", dated), "channel": "sms"},
                _row("undated", "pledge_evidence_rejected", "PENDING", {**REJECTED, "publication_day": None}),
                # Sent already: its text went out as it was; history is not edited.
                {**_row("sent", "pledge_evidence_rejected", "SENT", dated), "channel": "sms"},
            ],
        )
        command.upgrade(cfg, "head")
        found = dict(conn.execute(sa.select(notification.c.idempotency_key, notification.c.context)).all())
    assert "于2026-05-18零时前补正提交" in render_sms("pledge_evidence_rejected", found["dated"])
    assert "在另行告知的公示日零时前补正提交" in render_sms("pledge_evidence_rejected", found["undated"])
    assert "resubmit_by" not in found["sent"]

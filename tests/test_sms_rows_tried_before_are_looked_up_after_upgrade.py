"""Migration 0026: an SMS row tried before this version (pending, an attempt behind it) notes that the
attempt may have been sent, so its next attempt asks Alibaba Cloud first instead of sending blind (SendSms
is not idempotent). Rows never tried, e-mails and rows out of the queue are left as they are."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command

from models.db import make_engine
from models.schema import alembic_config
from notifications.outbox_service import MAYBE_SENT_KEY
from tests.test_outbox_secrets_migration import NOW, _row, notification

BEFORE = "0025_rejection_sms_resubmit_by"
CONTEXT = {"pledge_number": "CN-2026-000007"}


def test_sms_rows_tried_before_the_upgrade_are_looked_up_before_they_go_again(empty_database: str) -> None:
    engine = make_engine(empty_database)
    cfg = alembic_config(empty_database)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, BEFORE)
        conn.execute(
            sa.insert(notification),
            [
                {**_row("tried", "pledge_registered", "PENDING", CONTEXT), "channel": "sms"},
                {**_row("untried", "pledge_registered", "PENDING", CONTEXT), "channel": "sms", "attempts": 0},
                _row("mail", "pledge_registered", "PENDING", CONTEXT),
                {**_row("sent", "pledge_registered", "SENT", CONTEXT), "channel": "sms"},
            ],
        )
        command.upgrade(cfg, "head")
        found = dict(conn.execute(sa.select(notification.c.idempotency_key, notification.c.context)).all())
    moments = [dt.datetime.fromisoformat(at) for at in found["tried"][MAYBE_SENT_KEY]]
    assert min(moments) <= NOW.replace(tzinfo=NOW.tzinfo or dt.UTC) <= max(moments)
    assert all(MAYBE_SENT_KEY not in found[key] for key in ("untried", "mail", "sent"))

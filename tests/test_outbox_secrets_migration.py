"""Migration 0019 removes the access code that notifications out of the queue before ``_leave_queue``
(dead ones above all) still held in clear; a pending row keeps its code, which its message has to carry."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from alembic import command

from models.db import make_engine
from models.schema import alembic_config

BEFORE = "0018_pledgor_phone"
NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)

# The columns of the notification table at BEFORE that these rows set; the status as stored (the name).
notification = sa.table(
    "notification",
    sa.column("id", sa.Integer),
    sa.column("template", sa.String),
    sa.column("recipient_kind", sa.String),
    sa.column("recipient_name", sa.String),
    sa.column("recipient_email", sa.String),
    sa.column("channel", sa.String),
    sa.column("case_kind", sa.String),
    sa.column("case_id", sa.Integer),
    sa.column("case_number", sa.String),
    sa.column("context", sa.JSON),
    sa.column("status", sa.Enum("PENDING", "SENT", "DEAD", "UNDELIVERABLE", name="notificationstatus")),
    sa.column("attempts", sa.Integer),
    sa.column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.column("idempotency_key", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def _row(key: str, template: str, status: str, context: dict[str, Any]) -> dict[str, Any]:
    return {
        "template": template,
        "recipient_kind": "pledgor",
        "recipient_name": "示范公司",
        "recipient_email": "a@example.com",
        "channel": "email",
        "case_kind": "pledge",
        "case_id": 7,
        "case_number": "CN-2026-000007",
        "context": context,
        "status": status,
        "attempts": 1,
        "next_attempt_at": NOW,
        "idempotency_key": key,
        "created_at": NOW,
    }


def test_rows_out_of_the_queue_lose_the_access_code_and_pending_rows_keep_it(empty_database: str) -> None:
    engine = make_engine(empty_database)
    cfg = alembic_config(empty_database)
    coded = {"pledge_number": "CN-2026-000007", "access_code": "K7Q2-9XWM"}
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, BEFORE)
        rows = [
            _row("dead", "pledge_registered", "DEAD", coded),
            _row("dead:sms", "pledge_registered", "DEAD", coded),
            _row("sent", "pledge_access_code", "SENT", coded),
            _row("undeliverable", "pledge_registered", "UNDELIVERABLE", coded),
            _row("pending", "pledge_registered", "PENDING", coded),
            _row("pending-reissue", "pledge_access_code", "PENDING", coded),
            # Not a notice queued with a secret: its context is not the outbox's rule to edit.
            _row("other", "pledge_reminder", "DEAD", coded),
            _row("no-code", "pledge_registered", "SENT", {"pledge_number": "CN-2026-000007"}),
        ]
        # More dead rows than two of the migration's batches (1000), the last ones still with their code.
        rows += [_row(f"bulk-{i}", "pledge_registered", "DEAD", coded) for i in range(2050)]
        conn.execute(sa.insert(notification), rows)
        command.upgrade(cfg, "head")
        found = {
            r.idempotency_key: r.context
            for r in conn.execute(sa.select(notification.c.idempotency_key, notification.c.context))
        }
    engine.dispose()
    without = {"pledge_number": "CN-2026-000007"}
    for key in ("dead", "dead:sms", "sent", "undeliverable", "no-code", "bulk-0", "bulk-1500", "bulk-2049"):
        assert found[key] == without, key
    assert not [key for key, context in found.items() if key.startswith("bulk-") and "access_code" in context]
    for key in ("pending", "pending-reissue", "other"):
        assert found[key] == coded, key

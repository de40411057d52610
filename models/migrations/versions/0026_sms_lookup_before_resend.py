"""Queued SMS rows that were tried before this version are looked up before they are sent again

Revision ID: 0026_sms_lookup_before_resend
Revises: 0025_rejection_sms_resubmit_by
Create Date: 2026-12-07 16:00:00

Data only. Alibaba Cloud's SendSms is not idempotent: an attempt that got no answer may have been sent, so
the next attempt now first asks whether it was (QuerySendDetails by OutId), for rows that note when such an
attempt was made (``_maybe_sent_at`` in the context, notifications/outbox_service.py ``MAYBE_SENT_KEY``).
Rows queued and tried before this version carry no such note, and were retried blind. Each pending SMS
row with an attempt behind it gets the note, covering the hour before its next attempt (the longest
back-off), so its next attempt looks first: a message not sent is then found missing and sent, one sent is
marked sent. The HTTP gateway ignores the note (it refuses a resend itself). Read by id in batches; the
JSON is edited in Python, the same on SQLite and PostgreSQL (as 0019 and 0025 do).
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_sms_lookup_before_resend"
down_revision: str | None = "0025_rejection_sms_resubmit_by"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
KEY = "_maybe_sent_at"  # notifications.outbox_service.MAYBE_SENT_KEY, frozen here as migrations are
LONGEST_BACKOFF = dt.timedelta(hours=1)

notification = sa.table(
    "notification",
    sa.column("id", sa.Integer),
    sa.column("channel", sa.String),
    sa.column("status", sa.String),
    sa.column("attempts", sa.Integer),
    sa.column("next_attempt_at", sa.DateTime(timezone=True)),
    sa.column("context", sa.JSON),
)


def _aware(moment: dt.datetime) -> dt.datetime:
    # SQLite hands the stored UTC time back without its zone.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def upgrade() -> None:
    bind = op.get_bind()
    query = (
        sa.select(notification.c.id, notification.c.next_attempt_at, notification.c.context)
        .where(notification.c.status == sa.literal_column("'PENDING'"))
        .where(notification.c.channel == "sms")
        .where(notification.c.attempts > 0)
        .order_by(notification.c.id)
        .limit(BATCH)
    )
    update = (
        sa.update(notification)
        .where(notification.c.id == sa.bindparam("row_id"))
        .values(context=sa.bindparam("new_context", type_=sa.JSON))
    )
    last_id = 0
    while True:
        rows = bind.execute(query.where(notification.c.id > last_id)).all()
        if not rows:
            break
        last_id = rows[-1].id
        changed = []
        for row in rows:
            if not isinstance(row.context, dict) or KEY in row.context or row.next_attempt_at is None:
                continue
            due = _aware(row.next_attempt_at)
            moments = [(due - LONGEST_BACKOFF).isoformat(), due.isoformat()]
            changed.append({"row_id": row.id, "new_context": {**row.context, KEY: moments}})
        if changed:
            bind.execute(update, changed)


def downgrade() -> None:
    # Nothing to undo: the earlier version ignores the extra key.
    pass

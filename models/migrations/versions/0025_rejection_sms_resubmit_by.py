"""Evidence-rejected notices still queued get the SMS's by-when parameter

Revision ID: 0025_rejection_sms_resubmit_by
Revises: 0024_department_successor
Create Date: 2026-12-21 09:00:00

Data only. The SMS of a returned evidence submission now says by when to hand in again (``resubmit_by``,
models/pledges/mail.py); rows queued before carry no such key, and an SMS rendered without it would be a
dead letter. Each pending ``pledge_evidence_rejected`` row without it gets it from the publication day its
context already holds, by the function the service uses. Read by id in batches; the JSON is edited in
Python, the same on SQLite and PostgreSQL (as 0019 does).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.pledges.mail import resubmit_by

revision: str = "0025_rejection_sms_resubmit_by"
down_revision: str | None = "0024_department_successor"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000
TEMPLATE = "pledge_evidence_rejected"

notification = sa.table(
    "notification",
    sa.column("id", sa.Integer),
    sa.column("template", sa.String),
    sa.column("status", sa.String),
    sa.column("context", sa.JSON),
)


def upgrade() -> None:
    bind = op.get_bind()
    query = (
        sa.select(notification.c.id, notification.c.context)
        .where(notification.c.status == sa.literal_column("'PENDING'"))
        .where(notification.c.template == TEMPLATE)
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
        changed = [
            {
                "row_id": row.id,
                "new_context": {**row.context, "resubmit_by": resubmit_by(row.context.get("publication_day"))},
            }
            for row in rows
            if isinstance(row.context, dict) and "resubmit_by" not in row.context
        ]
        if changed:
            bind.execute(update, changed)


def downgrade() -> None:
    # Nothing to undo: the earlier templates ignore the extra key.
    pass

"""Notifications out of the queue lose the access code still stored in clear in their context

Revision ID: 0019_outbox_secrets_at_rest
Revises: 0018_pledgor_phone
Create Date: 2026-12-14 09:00:00

Data only. A notification that leaves the queue (sent, dead or undeliverable) keeps no copy of the
pledgor's access code (``models.outbox.leave_queue``), but rows that died before that
rule still hold it: each row no longer pending, of a template queued with a secret (``SECRET_TEMPLATES``)
and whose context still has a secret key gets the context ``without_secrets`` gives, so the rule stays in
models/outbox.py. Pending rows keep theirs: their message has yet to carry it. Read by id in batches, so
a large outbox is never held in memory at once; the JSON is edited in Python, the same on SQLite and
PostgreSQL.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.outbox import SECRET_CONTEXT_KEYS, SECRET_TEMPLATES, without_secrets

revision: str = "0019_outbox_secrets_at_rest"
down_revision: str | None = "0018_pledgor_phone"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000

# Only the columns this step reads and writes; the JSON type parses and serialises the context on both
# databases. The status column stores the member's name (SQLAlchemy's default), as 0001 created it.
notification = sa.table(
    "notification",
    sa.column("id", sa.Integer),
    sa.column("template", sa.String),
    sa.column("status", sa.String),
    sa.column("context", sa.JSON),
)


def upgrade() -> None:
    bind = op.get_bind()
    # A cheap textual pre-filter (the key's name appears in the stored JSON) so that the rows already
    # without a secret are not read at all; the exact test is done in Python on the parsed context.
    mentions_secret = sa.or_(
        *(
            sa.cast(notification.c.context, sa.Text).contains(key, autoescape=True)
            for key in SECRET_CONTEXT_KEYS
        )
    )
    query = (
        sa.select(notification.c.id, notification.c.context)
        .where(notification.c.status != sa.literal_column("'PENDING'"))
        .where(notification.c.template.in_(sorted(SECRET_TEMPLATES)))
        .where(mentions_secret)
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
            {"row_id": row.id, "new_context": without_secrets(row.context)}
            for row in rows
            if isinstance(row.context, dict) and not SECRET_CONTEXT_KEYS.isdisjoint(row.context)
        ]
        if changed:
            bind.execute(update, changed)


def downgrade() -> None:
    # No-op: the codes removed here cannot be put back (no copy was kept, which is the point), and the
    # schema is unchanged, so the older revision reads these rows as it reads those _leave_queue stripped.
    pass

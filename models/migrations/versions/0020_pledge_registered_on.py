"""pledge.registered_on: the day a pledge was registered, so a recomputed publication day keeps the rule
registration applied (never before the N-th working day after that day)

Revision ID: 0020_pledge_registered_on
Revises: 0019_outbox_secrets_at_rest
Create Date: 2026-12-15 09:00:00

Existing pledges get the local date (the configured time zone, Asia/Shanghai by default) of their
``created_at``, the moment they were registered; read and written by id in batches, the same on SQLite
and PostgreSQL.
"""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from models.settings import get_settings
from models.types import UTCDateTime

revision: str = "0020_pledge_registered_on"
down_revision: str | None = "0019_outbox_secrets_at_rest"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 5000

pledge = sa.table(
    "pledge",
    sa.column("id", sa.Integer),
    sa.column("created_at", UTCDateTime()),
    sa.column("registered_on", sa.Date),
)


def upgrade() -> None:
    with op.batch_alter_table("pledge") as batch:
        batch.add_column(sa.Column("registered_on", sa.Date(), nullable=True))
    bind = op.get_bind()
    zone = ZoneInfo(get_settings().timezone)
    query = (
        sa.select(pledge.c.id, pledge.c.created_at)
        .where(pledge.c.registered_on.is_(None), pledge.c.id > sa.bindparam("after"))
        .order_by(pledge.c.id)
        .limit(BATCH)
    )
    update = (
        sa.update(pledge)
        .where(pledge.c.id == sa.bindparam("row_id"))
        .values(registered_on=sa.bindparam("day"))
    )
    after = 0
    while rows := bind.execute(query, {"after": after}).all():
        days = [{"row_id": row_id, "day": _local_day(created, zone)} for row_id, created in rows]
        bind.execute(update, days)
        after = rows[-1][0]


def _local_day(created: dt.datetime, zone: ZoneInfo) -> dt.date:
    return created.astimezone(zone).date()


def downgrade() -> None:
    with op.batch_alter_table("pledge") as batch:
        batch.drop_column("registered_on")

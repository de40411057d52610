"""Deadlines waiting for the calendar (待日历确定): complaint, pledge and published_breach gain
deadline_pending, deadline_counted_from and deadline_working_days

Revision ID: 0015_pending_deadlines
Revises: 0014_hotline_work_orders
Create Date: 2026-12-10 09:00:00

A stage whose deadline lands in a year whose holiday notice is not loaded yet starts anyway: no date, the
flag, and the working days still owed from a known day, computed when the year is loaded (issue 14;
models/pending_deadlines.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_pending_deadlines"
down_revision: str | None = "0014_hotline_work_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("complaint", "pledge", "published_breach")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("deadline_pending", sa.Boolean(), server_default=sa.false(), nullable=False)
            )
            batch_op.add_column(sa.Column("deadline_counted_from", sa.Date(), nullable=True))
            batch_op.add_column(sa.Column("deadline_working_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("deadline_working_days")
            batch_op.drop_column("deadline_counted_from")
            batch_op.drop_column("deadline_pending")

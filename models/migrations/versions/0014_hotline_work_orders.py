"""12345 work orders in and out.

A complaint keeps the order it was handed in from (source system, the order id, the hotline's channel and
when it received the call), unique per source system and order id, so a resent order never registers a
second case. ``hotline_message`` is the outbox of results sent back to the hotline platform. The role enum
gains HOTLINE, the machine role whose token may only hand in work orders (SQLite stores enums as plain
text, so only PostgreSQL's native type changes).

Revision ID: 0014_hotline_work_orders
Revises: 0013_notification_channel
Create Date: 2026-12-10 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = "0014_hotline_work_orders"
down_revision: str | None = "0013_notification_channel"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Allowed inside a transaction since PostgreSQL 12 (the value is not used in this one).
        op.execute("ALTER TYPE role ADD VALUE IF NOT EXISTS 'HOTLINE'")
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("source_system", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(
            sa.Column("external_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(
            sa.Column("external_channel", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True)
        )
        batch_op.add_column(sa.Column("external_received_at", models.types.UTCDateTime(), nullable=True))
        batch_op.create_unique_constraint("uq_complaint_external", ["source_system", "external_id"])
    op.create_table(
        "hotline_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sqlmodel.sql.sqltypes.AutoString(length=96), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.Enum("PENDING", "SENT", "DEAD", name="hotlinemessagestatus"), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("sent_at", models.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaint.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("message_id"),
    )
    op.create_index("ix_hotline_message_complaint_id", "hotline_message", ["complaint_id"], unique=False)
    op.create_index("ix_hotline_message_due", "hotline_message", ["status", "next_attempt_at"], unique=False)


def downgrade() -> None:
    # The older code has no machine accounts, and the complaints a hotline account registered still name it:
    # the downgrade is refused while any exists rather than failing on (or, on SQLite, orphaning) them.
    handed_in = (
        op.get_bind()
        .execute(
            sa.text(
                "SELECT c.number FROM complaint c JOIN app_user u ON u.id = c.registered_by_id "
                "WHERE u.role = 'HOTLINE' ORDER BY c.number LIMIT 5"
            )
        )
        .scalars()
        .all()
    )
    if handed_in:
        raise RuntimeError(
            "无法降级：已有由 12345 热线账号登记的投诉（如 "
            f"{'、'.join(handed_in)}），旧版本没有热线账号，请保留当前版本 "
            f"(cannot downgrade below 0014: complaints registered by a hotline account, e.g. {', '.join(handed_in)})"
        )
    op.drop_index("ix_hotline_message_due", table_name="hotline_message")
    op.drop_index("ix_hotline_message_complaint_id", table_name="hotline_message")
    op.drop_table("hotline_message")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TYPE IF EXISTS hotlinemessagestatus")
    with op.batch_alter_table("complaint", schema=None) as batch_op:
        batch_op.drop_constraint("uq_complaint_external", type_="unique")
        batch_op.drop_column("external_received_at")
        batch_op.drop_column("external_channel")
        batch_op.drop_column("external_id")
        batch_op.drop_column("source_system")
    # PostgreSQL cannot drop a value from an enum type: machine accounts are removed, HOTLINE stays unused.
    op.execute("DELETE FROM app_user WHERE role = 'HOTLINE'")

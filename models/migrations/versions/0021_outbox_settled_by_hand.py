"""Dead 12345 messages and platform documents can be settled by hand: a ``handled`` state and who, how
and when

When the other system refuses a message or document for good, an admin passes its content on another way
(enters it on the 12345 system, reports it to the platform by other means) and records how
(``models.delivery_queue.settle_by_hand``); the later rows of the same case or record, held back behind
the dead one, then go on. SQLite stores the enums as plain text without a CHECK constraint, so only
PostgreSQL's native types gain the value.

Revision ID: 0021_outbox_settled_by_hand
Revises: 0020_pledge_registered_on
Create Date: 2026-12-16 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from models.types import UTCDateTime

revision: str = "0021_outbox_settled_by_hand"
down_revision: str | None = "0020_pledge_registered_on"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Each outbox table with its status enum type (enum columns store the member's name).
TABLES = {"hotline_message": "hotlinemessagestatus", "platform_document": "documentstatus"}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for type_name in TABLES.values():
            # Allowed inside a transaction since PostgreSQL 12 (the value is not used in this one).
            op.execute(f"ALTER TYPE {type_name} ADD VALUE IF NOT EXISTS 'HANDLED'")
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("handled_by", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
            )
            batch.add_column(
                sa.Column("handled_note", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True)
            )
            batch.add_column(sa.Column("handled_at", UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # PostgreSQL cannot drop a value from an enum type; it stays, unused by the older code. The rows
    # settled by hand go back to dead (the older code's only state for them), so their cases' later rows
    # wait again as they did before.
    for table in TABLES:
        op.execute(f"UPDATE {table} SET status = 'DEAD' WHERE status = 'HANDLED'")
        with op.batch_alter_table(table) as batch:
            batch.drop_column("handled_at")
            batch.drop_column("handled_note")
            batch.drop_column("handled_by")

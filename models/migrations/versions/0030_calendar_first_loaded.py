"""calendar_year.first_loaded_at: when a year's working days first became known, which a corrected notice
no longer moves (loaded_at stays the stored notice's own load, beside loaded_by)

Revision ID: 0030_calendar_first_loaded
Revises: 0029_provider_message_id
Create Date: 2026-12-08 03:00:00

The years already loaded take their loaded_at: a correction made before this change left no trace of
the first load, so its time is the earliest on record, and such a year stays dated from it, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_calendar_first_loaded"
down_revision: str | None = "0029_provider_message_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

calendar_year = sa.table(
    "calendar_year",
    sa.column("loaded_at", sa.DateTime(timezone=True)),
    sa.column("first_loaded_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("calendar_year") as batch:
        batch.add_column(sa.Column("first_loaded_at", sa.DateTime(timezone=True), nullable=True))
    # A handful of rows, one per loaded year.
    op.execute(sa.update(calendar_year).values(first_loaded_at=calendar_year.c.loaded_at))
    with op.batch_alter_table("calendar_year") as batch:
        batch.alter_column("first_loaded_at", existing_type=sa.DateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("calendar_year") as batch:
        batch.drop_column("first_loaded_at")

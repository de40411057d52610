"""department.successor_id: the department that took over a retired one's open work (机构改革)

Revision ID: 0024_department_successor
Revises: 0023_complaint_merged_into_index
Create Date: 2026-12-18 09:00:00

Nullable and empty for every existing department: none was retired through the service before, and an
inactive department without a successor stays as it is (models/department_retire.py may still name one).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_department_successor"
down_revision: str | None = "0023_complaint_merged_into_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN with its REFERENCES on both databases: SQLite adds a nullable column with a foreign
    # key in place, where batch mode would rebuild ``department``, which every case table refers to.
    column = sa.Column(
        "successor_id",
        sa.Integer(),
        sa.ForeignKey("department.id"),
        nullable=True,
    )
    op.add_column("department", column, inline_references=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot drop a column a foreign key names: batch mode rebuilds the table without it.
        with op.batch_alter_table("department") as batch:
            batch.drop_column("successor_id")
    else:
        op.drop_column("department", "successor_id")  # its foreign key goes with it

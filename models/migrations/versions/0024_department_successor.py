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
    # Batch: SQLite adds a foreign key only by rebuilding the table; PostgreSQL gets plain ALTERs.
    with op.batch_alter_table("department") as batch:
        batch.add_column(sa.Column("successor_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_department_successor_id", "department", ["successor_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("department") as batch:
        batch.drop_constraint("fk_department_successor_id", type_="foreignkey")
        batch.drop_column("successor_id")

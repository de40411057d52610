"""An index on complaint.merged_into_id: a handler's lists include the complaints merged into the cases the
department sees (models/complaints/visibility.py ``_merged_into_visible``), looked up by that column

Revision ID: 0023_complaint_merged_into_index
Revises: 0022_gov_credit_per_department
Create Date: 2026-12-17 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0023_complaint_merged_into_index"
down_revision: str | None = "0022_gov_credit_per_department"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_complaint_merged_into_id", "complaint", ["merged_into_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_complaint_merged_into_id", table_name="complaint")

"""An index on the folded subject name of the register's records: the public search compares names with
full-width letters and brackets, Latin case and spaces folded on both sides (models/register/names.py),
and without this index that comparison read every record

Revision ID: 0028_breach_name_key_index
Revises: 0027_complaint_withdrawn
Create Date: 2026-12-18 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.register.names import name_key_sql

revision: str = "0028_breach_name_key_index"
down_revision: str | None = "0027_complaint_withdrawn"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_published_breach_name_key", "published_breach", [name_key_sql(sa.column("subject_name"))]
    )


def downgrade() -> None:
    op.drop_index("ix_published_breach_name_key", table_name="published_breach")

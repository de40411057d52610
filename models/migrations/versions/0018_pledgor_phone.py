"""pledge.pledgor_phone: the pledgor's 联系电话, so a pledgor with no e-mail address is texted

Revision ID: 0018_pledgor_phone
Revises: 0017_case_files
Create Date: 2026-12-13 09:00:00

Nullable, no default: pledges registered before keep no phone and are mailed as before (issue 17).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0018_pledgor_phone"
down_revision: str | None = "0017_case_files"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("pledge") as batch:
        batch.add_column(sa.Column("pledgor_phone", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("pledge") as batch:
        batch.drop_column("pledgor_phone")

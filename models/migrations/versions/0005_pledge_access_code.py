"""pledge access code (办理码) digest

Revision ID: 0005_pledge_access
Revises: 0004
Create Date: 2026-11-22 08:00:00

Pledges registered before this revision have no code (NULL): their pledgor asks the authority, whose
staff re-issue one (POST /api/v1/pledges/{id}/access-code, audited as ``reissue_access_code``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = '0005_pledge_access'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('pledge', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('access_code_digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('pledge', schema=None) as batch_op:
        batch_op.drop_column('access_code_digest')

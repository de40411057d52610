"""app_user.session_generation: page sessions that sign-out and account changes can end

Revision ID: 0009_session_generation
Revises: 0008_pledge_import
Create Date: 2026-12-08 09:00:00

Each page sign-in cookie carries the user's generation; bumping it (sign-out, new password, deactivation,
role change) makes every cookie issued before refused at the next request (issue 16, item 9).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_session_generation"
down_revision: str | None = "0008_pledge_import"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_generation", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.drop_column("session_generation")

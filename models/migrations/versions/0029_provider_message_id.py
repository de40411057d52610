"""The provider's id of a delivered notification (an SMS gateway's message id, Alibaba Cloud's BizId), so
a delivery report or a complaint about a text can be matched to the row that sent it

Revision ID: 0029_provider_message_id
Revises: 0028_breach_name_key_index
Create Date: 2026-12-08 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_provider_message_id"
down_revision: str | None = "0028_breach_name_key_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.add_column(sa.Column("provider_message_id", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notification") as batch:
        batch.drop_column("provider_message_id")

"""notification.channel and notification.recipient_phone: a message goes by e-mail or by SMS

Revision ID: 0013_notification_channel
Revises: 0012_platform_national_fields
Create Date: 2026-12-10 09:00:00

One outbox row per channel (issue 17): the rows queued before this revision were all e-mail, which the
server default records; ``recipient_phone`` holds the mobile number an SMS row goes to (or, on an
undeliverable row, the landline that could not be texted).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_notification_channel"
down_revision: str | None = "0012_platform_national_fields"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=8), server_default="email", nullable=False))
        batch_op.add_column(sa.Column("recipient_phone", sa.String(length=32), nullable=True))


def downgrade() -> None:
    # The older schema knows e-mail only: its SMS rows cannot be represented, so they go with the column.
    op.execute("DELETE FROM notification WHERE channel <> 'email'")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("recipient_phone")
        batch_op.drop_column("channel")

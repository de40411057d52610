"""pledge.evidence_submitted_on and pledge.publication_counted_from: evidence under review holds publication

Revision ID: 0010_pledge_evidence_review
Revises: 0009_session_generation
Create Date: 2026-12-09 09:00:00

Evidence handed in holds publication until the authority decides; whether it came late is the submission
day against the deadline, and a rejection on or after the publication day counts the publication day again
from the rejection (issue 14).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0010_pledge_evidence_review'
down_revision: str | None = '0009_session_generation'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('pledge', schema=None) as batch_op:
        batch_op.add_column(sa.Column('evidence_submitted_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('publication_counted_from', sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('pledge', schema=None) as batch_op:
        batch_op.drop_column('publication_counted_from')
        batch_op.drop_column('evidence_submitted_on')

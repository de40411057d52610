"""A complainant may withdraw their complaint (投诉人撤回): one more value of the complaintstate enum.

``closed_withdrawn`` (撤回办结); models/complaints/withdrawal.py. SQLite stores the enum as plain text
without a CHECK constraint, so only PostgreSQL's native type changes (as 0011 did).

Revision ID: 0027_complaint_withdrawn
Revises: 0026_sms_lookup_before_resend
Create Date: 2026-12-07 17:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0027_complaint_withdrawn"
down_revision: str | None = "0026_sms_lookup_before_resend"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Enum columns store the member's name (SQLAlchemy's default), as 0001 created the type. Allowed
        # inside a transaction since PostgreSQL 12 (the value is not used in this one).
        op.execute("ALTER TYPE complaintstate ADD VALUE IF NOT EXISTS 'CLOSED_WITHDRAWN'")


def downgrade() -> None:
    # PostgreSQL cannot drop a value from an enum type, and the older code cannot read this state: a
    # withdrawn case goes back as closed (its events say it was withdrawn, and it carries no rating).
    op.execute("UPDATE complaint SET state = 'CLOSED' WHERE state = 'CLOSED_WITHDRAWN'")

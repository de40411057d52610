"""Complaints that cannot end satisfied still end: three more values of the complaintstate enum.

``explanation_ordered`` (书面说明原因并限期整改, after 拒不整改 is confirmed), ``closed_unsatisfied``
(不满意办结) and ``closed_unreachable`` (无法联系办结); models/complaints/refusal.py and closing.py. SQLite
stores the enum as plain text without a CHECK constraint, so only PostgreSQL's native type changes.

Revision ID: 0011_complaint_endings
Revises: 0010_pledge_evidence_review
Create Date: 2026-12-09 09:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_complaint_endings"
down_revision: str | None = "0010_pledge_evidence_review"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Enum columns store the member's name (SQLAlchemy's default), as 0001 created the type.
NEW_STATES = ("EXPLANATION_ORDERED", "CLOSED_UNSATISFIED", "CLOSED_UNREACHABLE")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for state in NEW_STATES:
            # Allowed inside a transaction since PostgreSQL 12 (the value is not used in this one).
            op.execute(f"ALTER TYPE complaintstate ADD VALUE IF NOT EXISTS '{state}'")


def downgrade() -> None:
    # PostgreSQL cannot drop a value from an enum type, and the older code cannot read these states: a case
    # in one goes back to the state the older lifecycle has for it (the explanation stage is the breach
    # confirmed; both endings are closed, the satisfaction stored on the case tells them apart).
    op.execute("UPDATE complaint SET state = 'BREACH_CONFIRMED' WHERE state = 'EXPLANATION_ORDERED'")
    op.execute(
        "UPDATE complaint SET state = 'CLOSED' WHERE state IN ('CLOSED_UNSATISFIED', 'CLOSED_UNREACHABLE')"
    )

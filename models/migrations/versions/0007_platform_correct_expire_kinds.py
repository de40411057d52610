"""Platform documents for corrections and expiry: two more values of the documentkind enum.

An upheld objection with correction and the end of a publication period change what the public sees, so
the credit platform gets a document for each (models/register.py PLATFORM_DOCUMENTS). SQLite stores the
enum as plain text without a CHECK constraint, so only PostgreSQL's native type changes.

Revision ID: 0007_platform_kinds
Revises: 0006
Create Date: 2026-11-22 08:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_platform_kinds"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Enum columns store the member's name (SQLAlchemy's default), as 0002 created the type.
NEW_KINDS = ("CORRECT", "EXPIRE")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for kind in NEW_KINDS:
            # Allowed inside a transaction since PostgreSQL 12 (the value is not used in this one).
            op.execute(f"ALTER TYPE documentkind ADD VALUE IF NOT EXISTS '{kind}'")


def downgrade() -> None:
    # PostgreSQL cannot drop a value from an enum type; the values stay, unused by the older code. Their
    # documents are removed, since the older code cannot read them back.
    kinds = ", ".join(f"'{kind}'" for kind in NEW_KINDS)
    op.execute(f"DELETE FROM platform_document WHERE kind IN ({kinds})")

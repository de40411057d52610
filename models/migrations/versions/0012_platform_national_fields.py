"""The credit platform in national fields, with receipts.

Pledges gain their type (承诺类型) and an enterprise's legal representative with ID type and number;
departments their 统一社会信用代码; platform documents the platform's receipt id and the time it came, and
the documentstatus enum the ACKNOWLEDGED state (SQLite stores enums as plain text, so only PostgreSQL's
native type changes). All new columns are optional: existing rows stay as they are.

Revision ID: 0012_platform_national_fields
Revises: 0011_complaint_endings
Create Date: 2026-12-10 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = "0012_platform_national_fields"
down_revision: str | None = "0011_complaint_endings"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Enum columns store the member's name (SQLAlchemy's default), as the other enum types do.
PLEDGE_TYPE = sa.Enum(
    "APPROVAL_SUBSTITUTE",
    "DEFERRED_DOCUMENTS",
    "CERTIFICATE",
    "CREDIT_REPAIR",
    "INDUSTRY_SELF_DISCIPLINE",
    "VOLUNTARY",
    name="pledgetype",
)
ID_TYPE = sa.Enum(
    "RESIDENT_ID",
    "PASSPORT",
    "HK_MACAO_PERMIT",
    "TAIWAN_PERMIT",
    "FOREIGN_PERMANENT_RESIDENT",
    name="idtype",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # Allowed inside a transaction since PostgreSQL 12 (the value is not used in this one).
        op.execute("ALTER TYPE documentstatus ADD VALUE IF NOT EXISTS 'ACKNOWLEDGED'")
    PLEDGE_TYPE.create(bind, checkfirst=True)
    ID_TYPE.create(bind, checkfirst=True)
    with op.batch_alter_table("pledge", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pledge_type", PLEDGE_TYPE, nullable=True))
        batch_op.add_column(
            sa.Column("legal_representative", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.add_column(sa.Column("legal_representative_id_type", ID_TYPE, nullable=True))
        batch_op.add_column(
            sa.Column(
                "legal_representative_id_number", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True
            )
        )
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credit_code", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True)
        )
    with op.batch_alter_table("platform_document", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("receipt_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True)
        )
        batch_op.add_column(
            sa.Column("acknowledged_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    # The older code knows no acknowledged state: such documents were delivered, which it calls sent.
    op.execute("UPDATE platform_document SET status = 'SENT' WHERE status = 'ACKNOWLEDGED'")
    with op.batch_alter_table("platform_document", schema=None) as batch_op:
        batch_op.drop_column("acknowledged_at")
        batch_op.drop_column("receipt_id")
    with op.batch_alter_table("department", schema=None) as batch_op:
        batch_op.drop_column("credit_code")
    with op.batch_alter_table("pledge", schema=None) as batch_op:
        batch_op.drop_column("legal_representative_id_number")
        batch_op.drop_column("legal_representative_id_type")
        batch_op.drop_column("legal_representative")
        batch_op.drop_column("pledge_type")
    bind = op.get_bind()
    # PostgreSQL cannot drop a value from an enum type; ACKNOWLEDGED stays, unused by the older code.
    ID_TYPE.drop(bind, checkfirst=True)
    PLEDGE_TYPE.drop(bind, checkfirst=True)

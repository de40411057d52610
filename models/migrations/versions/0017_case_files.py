"""case_file: files handed in with a complaint's rectification report and a breach record's objection or
repair request

Revision ID: 0017_case_files
Revises: 0016_government_register
Create Date: 2026-12-12 09:00:00

Until now those carried their attachments as text references only; the files are stored as a pledge's
evidence is (models/files.py: content-addressed under upload_dir), each row naming its case and the audit
event (event_seq) it came with (issue 15).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = "0017_case_files"
down_revision: str | None = "0016_government_register"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "case_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("filename", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("content_type", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("uploaded_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("uploaded_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_case_file_case", "case_file", ["case_kind", "case_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_file_case", table_name="case_file")
    op.drop_table("case_file")

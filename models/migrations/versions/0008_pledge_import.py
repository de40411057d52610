"""pledge_import: uploaded import files, worked through by the import_pledges flow

Revision ID: 0008_pledge_import
Revises: 0007_platform_kinds
Create Date: 2026-12-06 09:00:00

``POST /api/v1/pledges/import`` stores the upload here and answers 202; the flow imports it and keeps
its progress and report here (models/pledges/import_jobs.py).
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import models.types

revision: str = '0008_pledge_import'
down_revision: str | None = '0007_platform_kinds'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('pledge_import',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('filename', sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('uploader_id', sa.Integer(), nullable=True),
    sa.Column('uploader_name', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
    sa.Column('uploader_role', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('department_id', sa.Integer(), nullable=True),
    sa.Column('default_authority', sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
    sa.Column('accepted_on', sa.Date(), nullable=False),
    sa.Column('status', sa.Enum('QUEUED', 'RUNNING', 'DONE', 'FAILED', name='importstatus'), nullable=False),
    sa.Column('claim', sqlmodel.sql.sqltypes.AutoString(length=36), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('rows_total', sa.Integer(), nullable=True),
    sa.Column('rows_processed', sa.Integer(), nullable=False),
    sa.Column('imported', sa.Integer(), nullable=False),
    sa.Column('already_imported', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('report', sa.JSON(), nullable=False),
    sa.Column('error', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=True),
    sa.Column('flow_run_id', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
    sa.Column('created_at', models.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('heartbeat_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', models.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['department_id'], ['department.id'], ),
    sa.ForeignKeyConstraint(['uploader_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('pledge_import', schema=None) as batch_op:
        batch_op.create_index('ix_pledge_import_status', ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_pledge_import_department_id'), ['department_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('pledge_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pledge_import_department_id'))
        batch_op.drop_index('ix_pledge_import_status')
    op.drop_table('pledge_import')
    sa.Enum(name='importstatus').drop(op.get_bind(), checkfirst=True)

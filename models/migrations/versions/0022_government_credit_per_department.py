"""government_credit_record: one record per complaint and department, linked to its register record, and
marked when an upheld objection withdraws it

Revision ID: 0022_gov_credit_per_department
Revises: 0021_outbox_settled_by_hand
Create Date: 2026-12-17 09:00:00

A case reopened, re-dispatched and confirmed against another department gives that department its own
record, so the unique constraint is on (complaint, department) instead of the complaint alone.
``breach_id`` links each record to its register row (published_breach), so a decision on that row reaches
it: ``withdrawn_on`` is the day an upheld objection withdrew the finding (the row stays, no longer
counted), and a corrected severity is carried over.

Existing records: until now a complaint had at most one record and one register row, so each record gets
the register row of its complaint, that row's severity (corrected or not), and, where that row was
withdrawn, the local date (the configured time zone) of the withdrawal's audit event. Core SQL on explicit
columns, the same on SQLite and PostgreSQL.
"""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from models.settings import get_settings
from models.types import UTCDateTime

revision: str = "0022_gov_credit_per_department"  # alembic_version holds 32 characters
down_revision: str | None = "0021_outbox_settled_by_hand"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

record = sa.table(
    "government_credit_record",
    sa.column("id", sa.Integer),
    sa.column("breach_id", sa.Integer),
    sa.column("withdrawn_on", sa.Date),
)
event = sa.table(
    "case_event",
    sa.column("case_kind", sa.String),
    sa.column("case_id", sa.Integer),
    sa.column("event", sa.String),
    sa.column("at", UTCDateTime()),
)


def upgrade() -> None:
    with op.batch_alter_table("government_credit_record") as batch:
        batch.add_column(sa.Column("breach_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("withdrawn_on", sa.Date(), nullable=True))
        batch.drop_constraint("uq_government_credit_complaint", type_="unique")
        batch.create_unique_constraint(
            "uq_government_credit_complaint_department", ["complaint_id", "department_id"]
        )
        batch.create_foreign_key(
            "fk_government_credit_record_breach_id", "published_breach", ["breach_id"], ["id"]
        )
    # One register row per complaint and department now: the credit record's constraint keeps it so.
    with op.batch_alter_table("published_breach") as batch:
        batch.drop_constraint("uq_breach_complaint", type_="unique")
    op.execute(
        "UPDATE government_credit_record SET breach_id = (SELECT MIN(b.id) FROM published_breach b "
        "WHERE b.source_kind = 'complaint' AND b.complaint_id = government_credit_record.complaint_id)"
    )
    op.execute(
        "UPDATE government_credit_record SET severity = (SELECT b.severity FROM published_breach b "
        "WHERE b.id = government_credit_record.breach_id) WHERE breach_id IS NOT NULL"
    )
    bind = op.get_bind()
    zone = ZoneInfo(get_settings().timezone)
    withdrawn = bind.execute(
        sa.text(
            "SELECT r.id, b.id FROM government_credit_record r JOIN published_breach b ON b.id = r.breach_id "
            "WHERE b.state = 'WITHDRAWN'"  # enum columns store the member's name
        )
    ).all()
    for row_id, breach_id in withdrawn:
        at = bind.execute(
            sa.select(sa.func.max(event.c.at)).where(
                event.c.case_kind == "breach",
                event.c.case_id == breach_id,
                event.c.event == "uphold_withdraw",
            )
        ).scalar_one()
        bind.execute(sa.update(record).where(record.c.id == row_id).values(withdrawn_on=_local_day(at, zone)))


def _local_day(at: dt.datetime | None, zone: ZoneInfo) -> dt.date:
    # A withdrawn row without its event (not written by this application) is marked as of today.
    return (at or dt.datetime.now(dt.UTC)).astimezone(zone).date()


def downgrade() -> None:
    # The older code holds one credit record and one register record per complaint. A complaint confirmed
    # against a second department has a second of each, public and pushed to the platform: deleting them
    # would orphan their documents and events, so the downgrade is refused while any exists.
    doubled = op.get_bind().execute(
        sa.text(
            "SELECT complaint_number FROM government_credit_record GROUP BY complaint_id, complaint_number "
            "HAVING COUNT(*) > 1 ORDER BY complaint_number"
        )
    ).scalars().all()
    if doubled:
        raise RuntimeError(
            "无法降级：以下投诉已对多个部门确认违约失信，旧版本只能保存其中一条记录，请先保留当前版本 "
            f"(cannot downgrade below 0022: complaints with breaches confirmed against two departments: "
            f"{', '.join(doubled)})"
        )
    with op.batch_alter_table("published_breach") as batch:
        batch.create_unique_constraint("uq_breach_complaint", ["complaint_id"])
    with op.batch_alter_table("government_credit_record") as batch:
        batch.drop_constraint("fk_government_credit_record_breach_id", type_="foreignkey")
        batch.drop_constraint("uq_government_credit_complaint_department", type_="unique")
        batch.create_unique_constraint("uq_government_credit_complaint", ["complaint_id"])
        batch.drop_column("withdrawn_on")
        batch.drop_column("breach_id")

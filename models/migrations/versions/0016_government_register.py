"""Confirmed government breaches in the register: each government_credit_record without a register record
gets a published_breach (source_kind complaint), as confirm_breach now creates

Revision ID: 0016_government_register
Revises: 0015_pending_deadlines
Create Date: 2026-12-11 09:00:00

Data only. The register row is the source of truth for the public list from now on
(models/government_credit.py), so the breaches confirmed before it must be there too: subject = the
department, 认定部门 = its 主管部门 (else itself), the periods by class from the decision date, and as
public text the complaint summary through the publication filter (the complainant's name and
personal data masked; no supervisor wrote one then). Only where government breaches are published
(SHOUXIN_PUBLISH_GOVERNMENT_BREACHES, as confirm_breach). Core SQL on explicit columns, so later
changes to the models do not change what this step does. The credit platform is not sent these
records by the migration.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.breach import Severity
from models.breach_record import publication_end, repair_earliest
from models.privacy import publication_text
from models.settings import get_settings

revision: str = "0016_government_register"
down_revision: str | None = "0015_pending_deadlines"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if not get_settings().publish_government_breaches:
        return
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT r.id, r.complaint_id, r.facts, r.basis, r.severity, r.decision_date, r.department_id, "
            "c.summary, c.complainant_name, d.name, d.credit_code, d.competent_id "
            "FROM government_credit_record r JOIN complaint c ON c.id = r.complaint_id "
            "JOIN department d ON d.id = r.department_id "
            "WHERE NOT EXISTS (SELECT 1 FROM published_breach b WHERE b.complaint_id = r.complaint_id) "
            "ORDER BY r.id"
        )
    ).all()
    now = dt.datetime.now(dt.UTC)
    for row in rows:
        decided = (
            row.decision_date
            if isinstance(row.decision_date, dt.date)
            else dt.date.fromisoformat(row.decision_date)
        )
        severity = Severity[row.severity]  # enum columns store the member's name
        bind.execute(
            sa.text(
                "INSERT INTO case_counter (prefix, year, last) SELECT 'GS', :year, 0 "
                "WHERE NOT EXISTS (SELECT 1 FROM case_counter WHERE prefix = 'GS' AND year = :year)"
            ),
            {"year": decided.year},
        )
        bind.execute(
            sa.text("UPDATE case_counter SET last = last + 1 WHERE prefix = 'GS' AND year = :year"),
            {"year": decided.year},
        )
        seq = bind.execute(
            sa.text("SELECT last FROM case_counter WHERE prefix = 'GS' AND year = :year"),
            {"year": decided.year},
        ).scalar_one()
        matter = publication_text(row.summary, names=[row.complainant_name]) or row.summary
        bind.execute(
            sa.text(
                "INSERT INTO published_breach (number, source_kind, pledge_id, complaint_id, subject_kind, "
                "subject_name, subject_credit_code, matter, facts, basis, department_id, severity, "
                "decision_date, publication_end, repair_earliest, state, version, stage_seq, "
                "deadline_pending, created_at, updated_at) VALUES (:number, 'complaint', NULL, "
                ":complaint_id, 'government', :subject_name, :credit_code, :matter, :facts, :basis, "
                ":department_id, :severity, :decided, :end, :repair, 'PUBLISHED', 1, 0, :pending, :now, :now)"
            ),
            {
                "number": f"GS-{decided.year}-{seq:06d}",
                "complaint_id": row.complaint_id,
                "subject_name": row.name,
                "credit_code": row.credit_code or None,
                "matter": matter[:200],
                "facts": row.facts[:2000],
                "basis": row.basis,
                "department_id": row.competent_id or row.department_id,
                "severity": severity.name,
                "decided": decided,
                "end": publication_end(severity, decided),
                "repair": repair_earliest(severity, decided),
                "pending": False,
                "now": now,
            },
        )


def downgrade() -> None:
    # The records created here cannot be told from those confirm_breach created since; they stay.
    pass

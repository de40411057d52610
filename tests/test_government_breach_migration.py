"""Government breaches confirmed before the register held them are moved into it by migration 0016, with
the complaint summary as public text through the publication filter."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from models.db import create_sqlite_file, make_engine
from models.schema import alembic_config


def test_existing_government_breaches_become_register_records(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}", create=True)
    create_sqlite_file(engine.url)
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0015_pending_deadlines")
        # Enum columns as SQLAlchemy stores them: the member's name.
        conn.execute(
            text(
                "INSERT INTO department (id, code, name, level, credit_code, active) VALUES "
                "(1, 'D00', '市发展和改革委员会', 'CITY', NULL, 1), (2, 'D01', '市住房和城乡建设局', 'CITY', "
                "'11330100002497456X', 1)"
            )
        )
        conn.execute(text("UPDATE department SET competent_id = 1 WHERE id = 2"))
        conn.execute(
            text(
                "INSERT INTO complaint (id, number, year, seq, channel, complainant_name, category, summary, "
                "description, state, version, attachments, tracking_password_hash, stage_seq, "
                "extension_used, escalation_level, redo_count, suggestions, screened, breach_confirmed, "
                "created_at, updated_at) "
                "VALUES "
                "(7, 'TS-2026-000007', 2026, 7, 'HOTLINE', '王小明', 'SME_ARREARS', "
                "'王小明（电话13912345678，身份证110101199003071234）反映工程款未付', '详情', "
                "'REPLIED', 1, '[]', 'x', 0, 0, 0, 0, '[]', 1, 1, '2026-03-02 00:00:00', "
                "'2026-03-02 00:00:00')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO government_credit_record (department_id, complaint_id, complaint_number, "
                "matter, category, decision_date, facts, basis, severity, recorded_by, created_at) VALUES "
                "(2, 7, 'TS-2026-000007', 'x', 'sme_arrears', '2026-03-02', '经责令整改，拒不整改：拒绝', "
                "'发改财金〔2023〕1103号', 'GENERAL', '督办员', '2026-03-02 00:00:00')"
            )
        )
        command.upgrade(cfg, "head")
        row = conn.execute(
            text(
                "SELECT number, source_kind, complaint_id, subject_kind, subject_name, subject_credit_code, "
                "matter, department_id, decision_date, publication_end, repair_earliest, state "
                "FROM published_breach"
            )
        ).one()
    engine.dispose()
    assert tuple(row) == (
        "GS-2026-000001",
        "complaint",
        7,
        "government",
        "市住房和城乡建设局",
        "11330100002497456X",
        "王*明（电话139****5678，身份证110101********1234）反映工程款未付",
        1,  # 认定部门: D01's 主管部门
        "2026-03-02",
        "2027-03-02",
        "2026-06-02",
        "PUBLISHED",  # enum columns store the member's name
    )

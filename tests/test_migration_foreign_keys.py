"""Upgrading a database that holds rows other rows refer to: SQLite's batch rebuild of a referenced table
(0014 rebuilds ``complaint``) runs with foreign keys off and checks them before it commits."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session, select

from models.breach import PublishedBreach, Severity
from models.db import make_engine
from models.errors import SchemaOutOfDate
from models.government_credit_record import GovernmentCreditRecord
from models.lifecycle import BreachState
from models.schema import alembic_config, current_revision, head_revision, upgrade

BEFORE = "0013_notification_channel"
NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)

# The columns of these tables at BEFORE that the rows set; enums as stored (their names).
department = sa.table(
    "department",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("level", sa.Enum("CITY", "COUNTY", "ZONE", name="departmentlevel")),
    sa.column("active", sa.Boolean),
)
complaint = sa.table(
    "complaint",
    sa.column("id", sa.Integer),
    sa.column("channel", sa.Enum("HOTLINE", "WINDOW", "WEBSITE", "FORWARDED", name="channel")),
    sa.column("complainant_name", sa.String),
    sa.column("category", sa.Enum("PROCUREMENT", "OTHER", name="category")),
    sa.column("summary", sa.String),
    sa.column("description", sa.String),
    sa.column("number", sa.String),
    sa.column("year", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("state", sa.Enum("REGISTERED", "DISPATCHED", name="complaintstate")),
    sa.column("version", sa.Integer),
    sa.column("attachments", sa.JSON),
    sa.column("tracking_password_hash", sa.String),
    sa.column("stage_seq", sa.Integer),
    sa.column("extension_used", sa.Boolean),
    sa.column("escalation_level", sa.Integer),
    sa.column("redo_count", sa.Integer),
    sa.column("suggestions", sa.JSON),
    sa.column("screened", sa.Boolean),
    sa.column("breach_confirmed", sa.Boolean),
    sa.column("lead_department_id", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
assignment = sa.table(
    "complaint_assignment",
    sa.column("id", sa.Integer),
    sa.column("complaint_id", sa.Integer),
    sa.column("department_id", sa.Integer),
    sa.column("lead", sa.Boolean),
    sa.column("active", sa.Boolean),
)


def _at_before(url: str) -> Engine:
    engine = make_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, BEFORE)
    return engine


def _dispatched_complaint(conn: sa.Connection) -> None:
    conn.execute(
        sa.insert(department), {"id": 1, "code": "ZJJ", "name": "住建局", "level": "CITY", "active": True}
    )
    conn.execute(
        sa.insert(complaint),
        {
            "id": 1,
            "channel": "HOTLINE",
            "complainant_name": "张三",
            "category": "PROCUREMENT",
            "summary": "拖欠工程款",
            "description": "拖欠工程款",
            "number": "TS-2026-000001",
            "year": 2026,
            "seq": 1,
            "state": "DISPATCHED",
            "version": 1,
            "attachments": [],
            "tracking_password_hash": "x",
            "stage_seq": 1,
            "extension_used": False,
            "escalation_level": 0,
            "redo_count": 0,
            "suggestions": [],
            "screened": True,
            "breach_confirmed": False,
            "lead_department_id": 1,
            "created_at": NOW,
            "updated_at": NOW,
        },
    )
    conn.execute(
        sa.insert(assignment), {"id": 1, "complaint_id": 1, "department_id": 1, "lead": True, "active": True}
    )


def _schema(database: str) -> list[tuple[str, str]]:
    with sqlite3.connect(database) as conn:
        return conn.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_a_dispatched_complaint_survives_the_upgrade_that_rebuilds_its_table(empty_database: str) -> None:
    engine = _at_before(empty_database)
    with engine.begin() as conn:
        _dispatched_complaint(conn)
    assert upgrade(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(sa.select(complaint.c.number)).scalars().all() == ["TS-2026-000001"]
        assert conn.execute(sa.select(assignment.c.complaint_id, assignment.c.department_id)).all() == [
            (1, 1)
        ]
        if conn.dialect.name == "sqlite":
            # The connection the migrations ran on went back to the pool with its foreign keys on again.
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


@pytest.mark.parametrize("empty_database", ["sqlite"], indirect=True)
def test_an_upgrade_leaving_a_broken_reference_is_refused_naming_the_table_and_changes_nothing(
    empty_database: str,
) -> None:
    engine = _at_before(empty_database)
    with engine.begin() as conn:
        _dispatched_complaint(conn)
    database = make_url(empty_database).database
    assert database is not None
    with sqlite3.connect(database) as raw:  # foreign keys off: a row whose department is gone
        raw.execute("INSERT INTO complaint_assignment VALUES (2, 1, 99, 0, 1)")
    before = _schema(database)
    with pytest.raises(SchemaOutOfDate, match="complaint_assignment.*department"):
        upgrade(engine)
    assert current_revision(engine) == BEFORE
    assert _schema(database) == before
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM complaint_assignment").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


credit_record = sa.table(
    "government_credit_record",
    sa.column("id", sa.Integer),
    sa.column("department_id", sa.Integer),
    sa.column("complaint_id", sa.Integer),
    sa.column("complaint_number", sa.String),
    sa.column("matter", sa.String),
    sa.column("category", sa.String),
    sa.column("decision_date", sa.Date),
    sa.column("facts", sa.String),
    sa.column("basis", sa.String),
    sa.column("severity", sa.Enum("GENERAL", "SERIOUS", name="severity")),
    sa.column("recorded_by", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)


def test_a_government_breach_confirmed_before_the_register_took_them_is_registered_readably(
    empty_database: str,
) -> None:
    """0016 registers each confirmed government breach (where they are published): its state and class
    are stored by name like every enum, so the record reads back and shows."""
    engine = _at_before(empty_database)
    with engine.begin() as conn:
        _dispatched_complaint(conn)
        conn.execute(
            sa.insert(credit_record),
            {
                "id": 1, "department_id": 1, "complaint_id": 1, "complaint_number": "TS-2026-000001",
                "matter": "拖欠工程款", "category": "procurement", "decision_date": dt.date(2026, 3, 2),
                "facts": "拒不整改", "basis": "发改财金〔2023〕1103号", "severity": "GENERAL",
                "recorded_by": "督办员", "created_at": NOW,
            },
        )  # fmt: skip
    assert upgrade(engine) == head_revision()
    with Session(engine) as session:
        [record] = session.exec(select(PublishedBreach)).all()
        assert (record.state, record.severity, record.source_kind) == (
            BreachState.PUBLISHED, Severity.GENERAL, "complaint",
        )  # fmt: skip
        credit = session.exec(select(GovernmentCreditRecord)).one()
        assert credit.breach_id == record.id
    engine.dispose()

"""Migration 0020 gives every pledge registered before it the local date (Asia/Shanghai) it was registered
on, read from its creation time, so a recomputed publication day keeps the registration-day rule."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import command

from models.db import make_engine
from models.schema import alembic_config

BEFORE = "0019_outbox_secrets_at_rest"

department = sa.table(
    "department",
    sa.column("id", sa.Integer),
    sa.column("code", sa.String),
    sa.column("name", sa.String),
    sa.column("level", sa.Enum("CITY", name="departmentlevel")),
    sa.column("active", sa.Boolean),
)
pledge = sa.table(
    "pledge",
    sa.column("id", sa.Integer),
    sa.column("pledgor_kind", sa.Enum("ENTERPRISE", name="pledgorkind")),
    sa.column("pledgor_name", sa.String),
    sa.column("matter", sa.String),
    sa.column("obligation", sa.String),
    sa.column("deadline", sa.Date),
    sa.column("legal_basis", sa.String),
    sa.column("number", sa.String),
    sa.column("year", sa.Integer),
    sa.column("seq", sa.Integer),
    sa.column("state", sa.Enum("REGISTERED", name="pledgestate")),
    sa.column("version", sa.Integer),
    sa.column("authority_id", sa.Integer),
    sa.column("stage_seq", sa.Integer),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def _pledge(seq: int, created_at: dt.datetime) -> dict[str, object]:
    return {
        "id": seq, "pledgor_kind": "ENTERPRISE", "pledgor_name": f"示范公司{seq}", "matter": "施工许可",
        "obligation": "合格书", "deadline": dt.date(2026, 2, 2), "legal_basis": "",
        "number": f"CN-2026-{seq:06d}",
        "year": 2026, "seq": seq, "state": "REGISTERED", "version": 1, "authority_id": 1, "stage_seq": 0,
        "created_at": created_at, "updated_at": created_at,
    }  # fmt: skip


def test_pledges_registered_before_get_the_local_day_they_were_created_on(empty_database: str) -> None:
    engine = make_engine(empty_database)
    cfg = alembic_config(empty_database)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, BEFORE)
        conn.execute(
            sa.insert(department),
            [{"id": 1, "code": "D01", "name": "住建局", "level": "CITY", "active": True}],
        )
        # 16:30 UTC is 00:30 the next day in Beijing; more than one of the migration's batches of 5,000.
        late_evening = dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC)
        morning = dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC)
        conn.execute(
            sa.insert(pledge), [_pledge(i, late_evening if i % 2 else morning) for i in range(1, 5003)]
        )
        command.upgrade(cfg, "head")
        days = dict(conn.execute(sa.text("SELECT id, registered_on FROM pledge")).tuples().all())
    engine.dispose()
    assert len(days) == 5002
    assert {dt.date.fromisoformat(str(d)) for i, d in days.items() if i % 2} == {dt.date(2026, 3, 2)}
    assert {dt.date.fromisoformat(str(d)) for i, d in days.items() if not i % 2} == {dt.date(2026, 3, 2)}
    assert days[5002] is not None

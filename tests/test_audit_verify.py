"""`shouxin audit verify` finds edited, deleted and reordered rows; backup and restore keep the chain."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app
from models.audit_verify import Problem, verify_audit
from models.calendar import load_calendar
from models.db import get_engine
from models.demo import seed_demo, seed_demo_cases
from models.publication import sweep
from models.schema import upgrade
from models.settings import get_settings
from models.workflow import Actor

DEMO_DAY = dt.date(2026, 11, 23)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated file database with demo complaints and pledges, and a sweep's bulk-written events."""
    path = tmp_path / "audit.db"
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    upgrade(get_engine())
    with Session(get_engine()) as session:
        seed_demo(session=session)
        seed_demo_cases(session=session, today=DEMO_DAY, calendar=load_calendar(session=session))
        session.commit()
    sweep(engine=get_engine(), today=dt.date(2026, 12, 10), actor=Actor.system())
    yield path
    get_engine().dispose()
    get_engine.cache_clear()


def _sql(statement: str, **params: object) -> None:
    with get_engine().begin() as conn:
        conn.execute(text(statement), params)


def _complaint_with_events(minimum: int) -> tuple[int, int]:
    """A complaint id with at least ``minimum`` events, and its event count."""
    with get_engine().connect() as conn:
        row = conn.execute(
            text(
                "SELECT case_id, count(*) AS n FROM case_event WHERE case_kind='complaint' "
                "GROUP BY case_id HAVING count(*) >= :m ORDER BY n DESC, case_id LIMIT 1"
            ),
            {"m": minimum},
        ).one()
    return int(row.case_id), int(row.n)


def _verify(**kwargs: object) -> list[tuple[Problem, int, int]]:
    with Session(get_engine()) as session:
        report = verify_audit(session=session, **kwargs)  # type: ignore[arg-type]
    return [(f.problem, f.case_id, f.seq) for f in report.findings]


def test_an_untouched_trail_verifies_including_the_bulk_written_sweep_events(db: Path) -> None:
    with Session(get_engine()) as session:
        report = verify_audit(session=session)
        published = session.execute(text("SELECT count(*) FROM case_event WHERE event='publish'")).scalar()
    assert report.ok, report.lines()
    assert report.cases >= 6
    assert published, "the sweep should have bulk-written publish events"
    result = CliRunner().invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "哈希链完整" in result.output


def test_an_edited_row_is_reported_and_exits_1(db: Path) -> None:
    case_id, _ = _complaint_with_events(3)
    _sql(
        "UPDATE case_event SET note='改过的意见' WHERE case_kind='complaint' AND case_id=:c AND seq=2",
        c=case_id,
    )
    assert _verify() == [(Problem.EDITED, case_id, 2)]
    result = CliRunner().invoke(app, ["audit", "verify", "--kind", "complaint"])
    assert result.exit_code == 1
    assert "[edited]" in result.output
    assert "被篡改" in result.output


def test_a_deleted_middle_row_is_reported(db: Path) -> None:
    case_id, _ = _complaint_with_events(3)
    _sql("DELETE FROM case_event WHERE case_kind='complaint' AND case_id=:c AND seq=2", c=case_id)
    findings = _verify(kind="complaint", case_id=case_id)
    assert (Problem.DELETED, case_id, 3) in findings
    assert {p for p, _, _ in findings} == {Problem.DELETED}


def test_a_deleted_last_row_is_reported_from_the_case_state(db: Path) -> None:
    case_id, n = _complaint_with_events(3)
    _sql("DELETE FROM case_event WHERE case_kind='complaint' AND case_id=:c AND seq=:s", c=case_id, s=n)
    assert _verify() == [(Problem.DELETED, case_id, n - 1)]


def test_a_deleted_row_with_renumbered_successors_is_reported(db: Path) -> None:
    case_id, n = _complaint_with_events(3)
    _sql("DELETE FROM case_event WHERE case_kind='complaint' AND case_id=:c AND seq=2", c=case_id)
    _sql("UPDATE case_event SET seq=seq-1 WHERE case_kind='complaint' AND case_id=:c AND seq>2", c=case_id)
    problems = {p for p, c, _ in _verify() if c == case_id}
    assert Problem.DELETED in problems


def test_two_swapped_rows_are_reported_as_reordered(db: Path) -> None:
    case_id, _ = _complaint_with_events(3)
    where = "case_kind='complaint' AND case_id=:c"
    _sql(f"UPDATE case_event SET seq=-1 WHERE {where} AND seq=2", c=case_id)
    _sql(f"UPDATE case_event SET seq=2 WHERE {where} AND seq=3", c=case_id)
    _sql(f"UPDATE case_event SET seq=3 WHERE {where} AND seq=-1", c=case_id)
    findings = _verify()
    assert findings
    assert {p for p, _, _ in findings} == {Problem.REORDERED}
    assert {(c, s) for _, c, s in findings} >= {(case_id, 2), (case_id, 3)}


def test_an_edited_bulk_written_publish_event_is_reported(db: Path) -> None:
    _sql(
        "UPDATE case_event SET actor_name='某人' "
        "WHERE id=(SELECT min(id) FROM case_event WHERE event='publish')"
    )
    assert [p for p, _, _ in _verify(kind="pledge")] == [Problem.EDITED]


def test_backup_then_restore_into_a_new_file_verifies(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    backup_file = tmp_path / "backups" / "shouxin-2026-12-31.db"
    result = runner.invoke(app, ["backup", str(backup_file)])
    assert result.exit_code == 0, result.output
    with sqlite3.connect(backup_file) as conn:
        assert conn.execute("SELECT count(*) FROM case_event").fetchone()[0] > 0

    restored = tmp_path / "restored.db"
    get_engine().dispose()
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{restored}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    result = runner.invoke(app, ["restore", str(backup_file)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "哈希链完整" in result.output

    # A second restore over the now-existing database needs --yes.
    result = runner.invoke(app, ["restore", str(backup_file)])
    assert result.exit_code == 1
    assert "--yes" in result.output
    result = runner.invoke(app, ["restore", str(backup_file), "--yes"])
    assert result.exit_code == 0, result.output


def test_restore_refuses_a_file_that_is_not_a_shouxin_database(db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    junk = tmp_path / "notes.txt"
    junk.write_text("hello", encoding="utf-8")
    result = runner.invoke(app, ["restore", str(junk), "--yes"])
    assert result.exit_code == 1
    assert "不是 SQLite 数据库" in result.output
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    result = runner.invoke(app, ["restore", str(other), "--yes"])
    assert result.exit_code == 1
    assert "不是守信数据库" in result.output


def test_restore_refuses_a_backup_at_another_schema_revision(db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    backup_file = tmp_path / "old.db"
    assert runner.invoke(app, ["backup", str(backup_file)]).exit_code == 0
    with sqlite3.connect(backup_file) as conn:
        conn.execute("UPDATE alembic_version SET version_num='0001'")
    result = runner.invoke(app, ["restore", str(backup_file), "--yes"])
    assert result.exit_code == 1
    assert "结构版本" in result.output

"""`shouxin restore` upgrades a backup an older version of the program made, and refuses one from a newer
version or a damaged file in one line, leaving the live database as it was."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app
from models.backup import backup
from models.db import create_sqlite_file, get_engine, make_engine
from models.demo import seed_demo
from models.schema import alembic_config, check_up_to_date, head_revision, upgrade
from models.settings import get_settings

BEFORE = "0013_notification_channel"


@pytest.fixture
def live(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The installation's database file (migrated, with the demo's departments and users)."""
    path = tmp_path / "live" / "shouxin.db"
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    upgrade(get_engine())
    with Session(get_engine()) as session:
        seed_demo(session=session)
        session.commit()
    get_engine().dispose()
    yield path
    get_engine().dispose()
    get_engine.cache_clear()


def _old_backup(tmp_path: Path, *, broken_reference: bool = False) -> Path:
    """A backup taken by an installation still at BEFORE, with a complaint dispatched to a department."""
    url = f"sqlite:///{tmp_path / 'old' / 'shouxin.db'}"
    create_sqlite_file(url)
    engine = make_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, BEFORE)
    engine.dispose()
    database = tmp_path / "old" / "shouxin.db"
    with sqlite3.connect(database) as conn:
        conn.execute(
            "INSERT INTO department (id, code, name, level, active) VALUES (1, 'ZJJ', '住建局', 'CITY', 1)"
        )
        conn.execute(
            "INSERT INTO complaint (id, channel, complainant_name, category, summary, description, number, "
            "year, seq, state, version, attachments, tracking_password_hash, stage_seq, extension_used, "
            "escalation_level, redo_count, suggestions, screened, breach_confirmed, lead_department_id, "
            "created_at, updated_at) VALUES (1, 'HOTLINE', '张三', 'PROCUREMENT', '拖欠工程款', '欠款', "
            "'TS-2026-000001', 2026, 1, 'DISPATCHED', 1, '[]', 'x', 1, 0, 0, 0, '[]', 1, 0, 1, "
            "'2026-03-02 09:00:00', '2026-03-02 09:00:00')"
        )
        conn.execute(
            "INSERT INTO complaint_assignment (id, complaint_id, department_id, lead, active) "
            "VALUES (1, 1, 1, 1, 1)"
        )
        if broken_reference:
            conn.execute("INSERT INTO complaint_assignment VALUES (2, 1, 99, 0, 1)")
    return backup(database_url=url, target=tmp_path / "backups" / "old.db")


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refused_in_one_line(args: list[str]) -> str:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # no traceback
    assert len(result.output.strip().splitlines()) == 1, result.output
    return result.output


def test_a_backup_from_an_older_version_is_restored_upgraded_and_the_backup_file_is_untouched(
    live: Path, tmp_path: Path
) -> None:
    old = _old_backup(tmp_path)
    digest = _digest(old)
    result = CliRunner().invoke(app, ["restore", str(old), "--yes"])
    assert result.exit_code == 0, result.output
    assert f"已升级到{head_revision()}" in "".join(result.output.split())  # rich wraps the line
    check_up_to_date(get_engine())
    with get_engine().connect() as conn:
        assert conn.execute(sa.text("SELECT number FROM complaint")).scalars().all() == ["TS-2026-000001"]
        assert conn.execute(sa.text("SELECT complaint_id FROM complaint_assignment")).scalars().all() == [1]
    assert _digest(old) == digest
    assert sorted(p.name for p in live.parent.iterdir() if ".restoring" in p.name) == []


def test_an_older_backup_that_cannot_be_upgraded_is_refused_and_the_live_database_kept(
    live: Path, tmp_path: Path
) -> None:
    old = _old_backup(tmp_path, broken_reference=True)
    digest = _digest(live)
    output = _refused_in_one_line(["restore", str(old), "--yes"])
    assert "complaint_assignment" in output
    assert "现有数据库未改动" in output
    assert _digest(live) == digest
    assert sorted(p.name for p in live.parent.iterdir() if ".restoring" in p.name) == []


def test_a_backup_from_a_newer_version_is_refused(live: Path, tmp_path: Path) -> None:
    newer = backup(database_url=f"sqlite:///{live}", target=tmp_path / "newer.db")
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE alembic_version SET version_num='9999_from_the_future'")
    digest = _digest(live)
    output = _refused_in_one_line(["restore", str(newer), "--yes"])
    assert "9999_from_the_future" in output
    assert "新或无法识别" in output
    assert _digest(live) == digest


@pytest.mark.parametrize("keep", [0.25, 0.5])
def test_a_truncated_backup_is_refused_as_corrupt(live: Path, tmp_path: Path, keep: float) -> None:
    whole = backup(database_url=f"sqlite:///{live}", target=tmp_path / "whole.db").read_bytes()
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(whole[: int(len(whole) * keep)])
    digest = _digest(live)
    output = _refused_in_one_line(["restore", str(truncated), "--yes"])
    assert "已损坏" in output
    assert "backup file is corrupt" in output
    assert _digest(live) == digest

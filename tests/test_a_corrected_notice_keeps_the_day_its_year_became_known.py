"""A corrected holiday notice does not move the day its year became known.

The ladder folds steps that fell due while a year had no notice (models/deadlines.py ``_folded``): only
the highest is sent, its event saying the notice was loaded only on day X. The day is the first load's
(``CalendarYear.first_loaded_at``): a correction of a typo in January does not make the year look unknown
until then, so steps a missed run left behind are caught up, not folded under a false "loaded on" note.
The admin calendar page and ``shouxin calendar status`` show both times, and migration 0030 fills the new
column of the years already loaded from their ``loaded_at``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel
from typer.testing import CliRunner

import models.calendar
from cli.calendar_cmd import app as calendar_app
from models.calendar import CalendarYear, YearNotice, parse_year_file
from models.calendar_admin import load_year_notice
from models.db import create_sqlite_file, get_engine, make_engine
from models.schema import alembic_config
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_december_pending_deadlines import ADMIN, EXAMPLE_2027, dispatched, events, supervise
from tests.web_support import sign_in

LADDER_EVENTS = ("warn_red", "remind", "supervise", "escalate")
FIRST = dt.datetime(2026, 12, 20, 2, tzinfo=dt.UTC)  # 20 December, 10:00 in Asia/Shanghai
CORRECTED = dt.datetime(2027, 1, 28, 2, tzinfo=dt.UTC)  # 28 January, 10:00


@pytest.fixture
def stored_at(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """The time ``save_year_notice`` stores a load at: the last one appended."""
    now = [FIRST]
    monkeypatch.setattr(models.calendar, "utcnow", lambda: now[-1])
    return now


def _notice() -> YearNotice:
    return parse_year_file(EXAMPLE_2027)


def _corrected() -> YearNotice:
    """The example with a typo mended in October: nothing in January moves."""
    notice = _notice()
    workdays = [d for d in notice.workdays if d != dt.date(2027, 10, 9)] + [dt.date(2027, 10, 10)]
    return notice.model_copy(update={"workdays": workdays})


def _load(session: Session, notice: YearNotice, by: str, on: dt.date) -> None:
    load_year_notice(session=session, notice=notice, loaded_by=by, actor=ADMIN, today=on)
    session.commit()


def test_a_correction_keeps_the_first_load_as_the_day_the_year_became_known(
    session: Session, staff: Staff, stored_at: list[dt.datetime]
) -> None:
    _load(session, _notice(), "管理员", dt.date(2026, 12, 20))
    cid = dispatched(session, dt.date(2027, 1, 18))  # signing for due on 20 January
    stored_at.append(CORRECTED)
    _load(session, _corrected(), "复核员", dt.date(2027, 1, 28))
    row = session.get(CalendarYear, 2027)
    assert row is not None
    assert (row.first_loaded_at.replace(tzinfo=dt.UTC), row.loaded_by) == (FIRST, "复核员")
    assert row.loaded_at.replace(tzinfo=dt.UTC) == CORRECTED
    # The first run in a week (6 working days overdue): the year was known all along, so every step a
    # missed run left behind is caught up; none is folded as "loaded only on 28 January".
    supervise(session, dt.date(2027, 1, 28))
    steps = events(session, "complaint", cid, *LADDER_EVENTS)
    assert [e.event for e in steps] == ["warn_red", "remind", "supervise", "escalate"]
    assert all("skipped_steps" not in e.data for e in steps)


def test_the_page_and_the_cli_show_the_first_load_and_the_correction(
    client: TestClient, session: Session, staff: Staff, stored_at: list[dt.datetime]
) -> None:
    _load(session, _notice(), "管理员", dt.date(2026, 12, 20))
    sign_in(client, staff.admin)
    page = client.get("/staff/admin/calendar?year=2027").text
    assert "首次载入：2026-12-20 10:00（管理员）" in page
    assert "最近更正" not in page
    stored_at.append(CORRECTED)
    _load(session, _corrected(), "复核员", dt.date(2027, 1, 28))
    page = client.get("/staff/admin/calendar?year=2027").text
    assert "首次载入：2026-12-20 10:00；最近更正：2027-01-28 10:00（复核员）" in page


def test_shouxin_calendar_shows_the_first_load_and_the_correction(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stored_at: list[dt.datetime]
) -> None:
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    create_sqlite_file(get_engine().url)
    SQLModel.metadata.create_all(get_engine())
    try:
        with Session(get_engine()) as other:
            _load(other, _notice(), "管理员", dt.date(2026, 12, 20))
            assert _flat("首次载入 2026-12-20 10:00，载入人 管理员") in _cli("status")
            stored_at.append(CORRECTED)
            _load(other, _corrected(), "复核员", dt.date(2027, 1, 28))
        for command in ("status", "show"):
            assert _flat("首次载入 2026-12-20 10:00，2027-01-28 10:00 由 复核员 更正") in _cli(command)
    finally:
        get_engine().dispose()
        get_engine.cache_clear()


def _cli(command: str) -> str:
    result = CliRunner().invoke(calendar_app, [command, "2027"] if command == "show" else [command])
    assert result.exit_code == 0, result.output
    return _flat(result.output)


def _flat(text: str) -> str:
    """``text`` without white space: rich wraps a long line at the terminal's width."""
    return "".join(text.split())


def test_the_migration_takes_the_years_already_loaded_as_known_since_their_load(
    empty_database: str,
) -> None:
    engine = make_engine(empty_database)
    cfg = alembic_config(empty_database)
    table = sa.table(
        "calendar_year",
        *(
            sa.column(name, sa.String)
            for name in ("notice_json", "notice_title", "source", "version", "loaded_by")
        ),
        sa.column("year", sa.Integer),
        sa.column("loaded_at", sa.DateTime(timezone=True)),
    )
    row = {"year": 2027, "notice_json": "{}", "notice_title": "t", "source": "s", "version": "v",
           "loaded_at": FIRST, "loaded_by": "管理员"}  # fmt: skip
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0029_provider_message_id")
        conn.execute(sa.insert(table), [row])
        command.upgrade(cfg, "head")
        first, loaded = conn.execute(sa.text("SELECT first_loaded_at, loaded_at FROM calendar_year")).one()
    engine.dispose()
    assert first == loaded

"""The calendar-change recompute, the CLI (import, sweep) and one run of the real Prefect flow."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import typer
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

from models.accounts import import_departments
from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.calendar import load_calendar, parse_year_file, save_year_notice
from models.db import get_engine
from models.pledge import Pledge
from models.publication import recompute_publication_days
from models.workflow import Actor
from tests.conftest import DEPARTMENTS, Staff
from tests.test_pledges import CSV
from tests.test_publication import new_pledge

ROOT = Path(__file__).resolve().parents[1]


def test_pending_publication_day_computed_when_year_loaded(session: Session, staff: Staff) -> None:
    pledge = new_pledge(session, dt.date(2026, 12, 28))
    assert pledge.publication_day is None
    notice = parse_year_file(ROOT / "docs" / "calendar-example-2027.json")
    save_year_notice(session=session, notice=notice, loaded_by="test")
    calendar = load_calendar(session=session)
    assert (
        recompute_publication_days(
            session=session, calendar=calendar, actor=Actor.system(), today=dt.date(2026, 12, 1)
        )
        == 1
    )
    session.commit()
    session.expire_all()
    pledge = session.get(Pledge, pledge.id)  # type: ignore[assignment]
    assert pledge.publication_day == calendar.nth_working_day_after(dt.date(2026, 12, 28), 7)
    assert pledge.calendar_version == calendar.version
    event = session.exec(select(CaseEvent).where(CaseEvent.event == "recompute")).one()
    assert event.data["old"] is None
    assert event.data["calendar_version"] == calendar.version
    assert (
        recompute_publication_days(
            session=session, calendar=calendar, actor=Actor.system(), today=dt.date(2026, 12, 1)
        )
        == 0
    )


@pytest.fixture
def cli_db() -> Engine:
    engine = get_engine()
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
    return engine


def _app() -> typer.Typer:
    from cli.pledges_cmd import app, sweep

    app.command("sweep")(sweep)
    return app


@pytest.mark.prefect
def test_cli_import_and_sweep(
    cli_db: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_harness: None
) -> None:
    from models.settings import get_settings

    monkeypatch.setenv("SHOUXIN_TODAY", "2026-03-02")
    get_settings.cache_clear()
    path = tmp_path / "p.csv"
    path.write_text(CSV.replace("2026-04-30", "2026-02-12"), encoding="utf-8")
    runner = CliRunner()
    codes = tmp_path / "codes.csv"
    result = runner.invoke(_app(), ["import", str(path), "--codes-out", str(codes)])
    assert result.exit_code == 1, result.output
    assert "导入 2 行" in result.output
    assert "统一社会信用代码" in result.output
    # The one pledgor without an e-mail address (张三) gets the code on paper, from this file.
    lines = codes.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "承诺编号,承诺人名称,办理码"
    assert len(lines) == 2
    assert ",张三," in lines[1]
    dry = runner.invoke(_app(), ["sweep", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "演练" in dry.output
    with Session(cli_db) as session:
        assert session.exec(select(PublishedBreach)).all() == []
    # The 2026-02-12 pledge was registered late (back-registered on 2026-03-02): its publication day is
    # the 7th working day after the registration, not after the deadline (models.pledge).
    early = runner.invoke(_app(), ["sweep", "--as-of", "2026-03-10", "--no-prefect"])
    assert early.exit_code == 0, early.output
    with Session(cli_db) as session:
        assert session.exec(select(PublishedBreach)).all() == []
    done = runner.invoke(_app(), ["sweep", "--as-of", "2026-03-11"])
    assert done.exit_code == 0, done.output
    with Session(cli_db) as session:
        assert len(session.exec(select(PublishedBreach)).all()) == 1  # the 2026-02-12 pledge
        # `shouxin sweep` runs the Prefect flow, so its events carry the flow-run id.
        assert session.exec(select(CaseEvent).where(CaseEvent.event == "publish")).one().flow_run_id
    again = runner.invoke(_app(), ["sweep", "--as-of", "2026-03-12", "--no-prefect"])
    assert again.exit_code == 0, again.output
    with Session(cli_db) as session:
        assert len(session.exec(select(PublishedBreach)).all()) == 1


@pytest.mark.prefect
def test_real_flow_stamps_flow_run_id(cli_db: Engine, prefect_harness: None) -> None:
    from flows.publish_breaches import publish_breaches

    with Session(cli_db, expire_on_commit=False) as session:
        new_pledge(session, dt.date(2026, 2, 12))
    counts = publish_breaches(as_of=dt.date(2026, 3, 2))
    assert counts["publish"] == 1
    with Session(cli_db) as session:
        event = session.exec(select(CaseEvent).where(CaseEvent.event == "publish")).one()
        assert event.flow_run_id
        assert event.actor_role == "system"


@pytest.mark.prefect
def test_a_failed_batch_leaves_the_other_batches_and_steps_to_run_and_fails_the_run_naming_it(
    cli_db: Engine, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.publish_breaches as publish_flow
    from models.settings import get_settings

    monkeypatch.setenv("SHOUXIN_BATCH_SIZE", "1")
    get_settings.cache_clear()
    with Session(cli_db, expire_on_commit=False) as session:
        broken = new_pledge(session, dt.date(2026, 2, 12), name="甲公司")
        other = new_pledge(session, dt.date(2026, 2, 12), name="乙公司", code=None)
    run_batch = publish_flow.run_batch

    def failing_once_for_broken(**kwargs: object) -> int:
        if kwargs["step"] == "overdue" and broken.id in kwargs["ids"]:  # type: ignore[operator]
            raise RuntimeError("the database went away for this batch")
        return run_batch(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(publish_flow, "run_batch", failing_once_for_broken)
    with pytest.raises(RuntimeError, match=rf"1 个批次失败（标记逾期 #\d+（{broken.id}–{broken.id}）"):
        publish_flow.publish_breaches(as_of=dt.date(2026, 3, 2))
    with Session(cli_db) as session:
        assert session.get(Pledge, other.id).state == "published"  # type: ignore[union-attr]
        assert session.get(Pledge, broken.id).state == "registered"  # type: ignore[union-attr]

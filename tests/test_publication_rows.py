"""The sweep stores the same rows, byte for byte, as the code before its rows were built in driver form.

Two copies of one SQLite file are swept day by day with the same pinned clock, one by the product and one
by a frozen copy of the earlier module (tests/reference/publication_before.py); after every day each
table must hold the same raw values in the same order (pledges, events and their hash chains, breach
rows, mails, platform documents, counters).

The reference is a copy on purpose (an oracle for refactorings that must not change a stored byte). When
the sweep is meant to store something different, make that change in the reference too, in the same
commit, so the difference is reviewed as such."""

from __future__ import annotations

import datetime as dt
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, SQLModel

import models.publication as publication
import tests.reference.publication_before as before
from models.accounts import import_departments
from models.calendar import load_calendar
from models.db import make_engine
from models.pledges import store_evidence
from models.workflow import Actor, Role
from tests.conftest import DEPARTMENTS
from tests.test_publication import SYSTEM, _id, new_pledge

DAYS = [dt.date(2026, 2, 13), dt.date(2026, 2, 24), dt.date(2026, 3, 2), dt.date(2026, 3, 16)]


def _tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: conn.execute(f'SELECT * FROM "{name}" ORDER BY rowid').fetchall() for name in names}


def _seed(path: Path) -> None:
    engine = make_engine(f"sqlite:///{path}")
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
        for k in range(12):
            new_pledge(session, dt.date(2026, 2, 12), name=f"示范建设有限公司{k}", email=f"p{k}@example.com")
        new_pledge(session, dt.date(2026, 2, 12), email=None)  # no address: an undeliverable mail
        new_pledge(session, dt.date(2026, 2, 12), name="张三", code=None)  # an individual
        new_pledge(session, dt.date(2026, 2, 26), name="李四", code=None, email=None)
        new_pledge(session, dt.date(2026, 3, 5))  # reminded before its deadline
        submitted = new_pledge(session, dt.date(2026, 2, 12), name="已提交材料有限公司")
        handler = Actor(name="住建经办人", role=Role.HANDLER, department_id=submitted.authority_id)
        store_evidence(
            session=session,
            pledge_id=_id(submitted),
            filename="x.png",
            content=b"\x89PNG\r\n\x1a\nxx",
            actor=handler,
            today=dt.date(2026, 2, 12),
            calendar=load_calendar(session=session),
        )
        session.commit()
    engine.dispose()


@pytest.mark.parametrize("batch_size", [3, 2000])
def test_the_sweep_stores_the_rows_the_earlier_code_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch_size: int
) -> None:
    seeded = tmp_path / "seed.db"
    _seed(seeded)
    paths = {"now": tmp_path / "now.db", "before": tmp_path / "before.db"}
    for path in paths.values():
        shutil.copy(seeded, path)
    engines = {name: make_engine(f"sqlite:///{path}") for name, path in paths.items()}
    modules = {"now": publication, "before": before}
    try:
        for day in DAYS:
            moment = dt.datetime.combine(day, dt.time(1, 0, 0, 123456), tzinfo=dt.UTC)
            for name, module in modules.items():
                monkeypatch.setattr(module, "utcnow", lambda moment=moment: moment)
                report = module.sweep(engine=engines[name], today=day, actor=SYSTEM, batch_size=batch_size)
                assert not report.refused
            now, then = _tables(paths["now"]), _tables(paths["before"])
            assert now.keys() == then.keys()
            for table in now:
                assert now[table] == then[table], f"{table} differs after the sweep of {day}"
        stored = _tables(paths["now"])
        assert len(stored["published_breach"]) == len(stored["platform_document"]) == 17
        templates = {row[1] for row in stored["notification"]}
        assert {"pledge_overdue", "pledge_prepublication", "pledge_reminder", "pledge_published"} <= templates
    finally:
        for engine in engines.values():
            engine.dispose()

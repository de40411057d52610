"""The import_pledges flow (the real Prefect flow, on the test harness) imports every file waiting, stamps
its run on the events, and a second run finds nothing left to import."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from models.accounts import import_departments
from models.audit import CaseEvent
from models.db import get_engine
from models.lifecycle import Role
from models.pledge import Pledge
from models.pledges.import_jobs import ImportStatus, PledgeImport, submit_import
from models.workflow import Actor
from tests.conftest import DEPARTMENTS, TODAY
from tests.test_pledges import CSV


@pytest.fixture
def file_db() -> Engine:
    engine = get_engine()  # the settings' database, as the flow's tasks open it
    SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
    return engine


@pytest.mark.prefect
def test_the_flow_imports_waiting_files_once(file_db: Engine, prefect_harness: None) -> None:
    from flows.import_pledges import import_pledges

    with Session(file_db) as session:
        job = submit_import(
            session=session,
            content=CSV.encode(),
            filename="承诺.csv",
            actor=Actor(name="督办员老李", role=Role.SUPERVISOR),
            today=TODAY,
        )
        session.commit()
        import_id = job.id
    assert import_pledges() == {"done": 1, "failed": 0, "skipped": 0}
    with Session(file_db) as session:
        done = session.get(PledgeImport, import_id)
        assert done is not None
        assert (done.status, done.imported, done.failed) == (ImportStatus.DONE, 2, 2)
        assert done.flow_run_id
        events = session.exec(select(CaseEvent)).all()
        assert {e.flow_run_id for e in events} == {done.flow_run_id}
    assert import_pledges() == {"done": 0, "failed": 0, "skipped": 0}
    with Session(file_db) as session:
        assert len(session.exec(select(Pledge)).all()) == 2


@pytest.mark.prefect
def test_the_flow_validates_a_large_file_on_a_second_core(
    file_db: Engine, prefect_harness: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The validating worker is a spawned process started inside the flow run: the import it helps with
    stores and reports what a single pass would."""
    import models.pledges.import_checks as checks
    import models.pledges.importing as service
    from flows.import_pledges import import_pledges

    started: list[int] = []

    def started_pool() -> ProcessPoolExecutor:
        pool = pool_of_spawn()
        # Up, with the validation imported, before the first chunk is read.
        pool.submit(checks.check_rows, [], authorities={}, default_authority=None, today=TODAY).result()
        started.append(pool.submit(os.getpid).result())
        return pool

    pool_of_spawn = checks.validating_pool
    monkeypatch.setattr(checks, "validating_pool", started_pool)
    monkeypatch.setattr(checks, "POOL_FROM_ROWS", 6)
    monkeypatch.setattr(service, "IMPORT_CHUNK", 3)
    header = "承诺人类型,承诺人名称,统一社会信用代码,电子邮箱,承诺事项,承诺内容,承诺期限,受理部门代码\n"
    rows = "".join(
        f"个人,并行校验{i},,,执业登记,学历证明,{'2026-13-01' if i % 4 == 0 else '2026-05-08'},D01\n"
        for i in range(14)
    )
    with Session(file_db) as session:
        job = submit_import(
            session=session,
            content=(header + rows).encode(),
            filename="large.csv",
            actor=Actor(name="督办员老李", role=Role.SUPERVISOR),
            today=TODAY,
        )
        session.commit()
        import_id = job.id
    assert import_pledges() == {"done": 1, "failed": 0, "skipped": 0}
    assert len(started) == 1
    assert started[0] != os.getpid()
    with Session(file_db) as session:
        done = session.get(PledgeImport, import_id)
        assert done is not None
        assert (done.status, done.rows_processed, done.imported, done.failed) == (
            ImportStatus.DONE,
            14,
            10,
            4,
        )
        assert [e["row"] for e in done.report["errors"]] == [2, 6, 10, 14]
        names = session.exec(select(Pledge.pledgor_name).order_by(Pledge.seq)).all()  # type: ignore[arg-type]
        assert names == [f"并行校验{i}" for i in range(14) if i % 4]

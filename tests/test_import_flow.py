"""The import_pledges flow (the real Prefect flow, on the test harness) imports every file waiting, stamps
its run on the events, and a second run finds nothing left to import."""

from __future__ import annotations

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

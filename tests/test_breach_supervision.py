"""Supervision of objection and repair decisions on register records, in working days: yellow on the last
working day before the deadline, red and 催办 on the first working day after, across Labour Day 2026
(05-01..05-05 off, Saturday 05-09 a make-up working day), each step once."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.breach_supervision import supervise_breaches, supervision_ids
from models.calendar import WorkCalendar
from models.lifecycle import Role
from models.outbox import Notification
from models.register import decide
from models.register.requests import request_repair, submit_objection
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import access_code, publish

SYSTEM = Actor.system("run-b")


def objected(engine: Engine, session: Session, calendar: WorkCalendar, on: dt.date) -> PublishedBreach:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    objected = submit_objection(
        session=session,
        number=record.number,
        access_code=access_code(session, record),
        reason="已按期提交材料",
        evidence=None,
        today=on,
        calendar=calendar,
    )
    session.commit()  # the service flushes; its caller commits
    return objected


def run(session: Session, calendar: WorkCalendar, day: dt.date) -> int:
    return supervise_breaches(
        session=session, ids=supervision_ids(session=session), actor=SYSTEM, today=day, calendar=calendar
    )


def steps(session: Session, breach_id: int) -> list[str]:
    session.expire_all()
    rows = session.exec(
        select(CaseEvent)
        .where(
            CaseEvent.case_kind == "breach", CaseEvent.case_id == breach_id, CaseEvent.actor_role == "system"
        )
        .order_by(col(CaseEvent.seq))
    )
    return [e.event for e in rows if e.event in ("warn_yellow", "warn_red", "remind")]


def test_objection_deadline_across_labour_day(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    record = objected(engine, session, calendar, dt.date(2026, 4, 27))
    assert record.id is not None
    # 5 working days after Monday 04-27, skipping 05-01..05-05: Thursday 05-07.
    assert record.stage_deadline == dt.date(2026, 5, 7)
    by_day: dict[dt.date, int] = {}
    for n in range(15):
        day = dt.date(2026, 4, 27) + dt.timedelta(days=n)
        by_day[day] = run(session, calendar, day)
        run(session, calendar, day)  # a second run the same day adds nothing
    assert {d.isoformat(): n for d, n in by_day.items() if n} == {"2026-05-06": 1, "2026-05-08": 2}
    assert steps(session, record.id) == ["warn_yellow", "warn_red", "remind"]
    notices = session.exec(
        select(Notification)
        .where(Notification.template == "breach_stage_notice")
        .order_by(col(Notification.id))
    ).all()
    assert [(n.context["step"], n.recipient_kind) for n in notices] == [
        ("yellow", "department"),
        ("yellow", "supervisor"),
        ("red", "department"),
        ("red", "supervisor"),
        ("remind", "department"),
        ("remind", "supervisor"),
    ]
    assert notices[0].recipient_name == "市住房和城乡建设局"
    assert notices[0].context["working_days_left"] == 1
    assert notices[0].context["stage_label"] == "异议答复"
    assert notices[2].context["working_days_left"] == -1
    assert {n.case_number for n in notices} == {record.number}


def test_a_decision_ends_supervision_and_repair_is_chased_as_its_own_stage(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    record = objected(engine, session, calendar, dt.date(2026, 3, 2))
    assert record.id is not None
    assert run(session, calendar, dt.date(2026, 3, 10)) == 2  # deadline 03-09: red and 催办 at once
    decide(
        session=session,
        breach_id=record.id,
        action="reject_objection",
        actor=Actor(name="督办员", role=Role.SUPERVISOR),
        reason="与认定文书一致",
        today=dt.date(2026, 3, 11),
        calendar=calendar,
    )
    assert supervision_ids(session=session) == []
    assert run(session, calendar, dt.date(2026, 3, 12)) == 0
    # Repair: the minimum period of a 一般 record is 3 months from 02-28; decide in 3 working days.
    request_repair(
        session=session,
        number=record.number,
        access_code=access_code(session, record),
        statement="已补交合格书",
        repair_pledge="今后按期履行承诺",
        today=dt.date(2026, 6, 1),
        calendar=calendar,
    )
    session.refresh(record)
    assert record.stage_deadline == dt.date(2026, 6, 4)
    assert run(session, calendar, dt.date(2026, 6, 6)) == 0  # Saturday: nothing new is due
    assert run(session, calendar, dt.date(2026, 6, 8)) == 2  # Monday: red and 催办, no late yellow
    assert steps(session, record.id) == ["warn_red", "remind", "warn_red", "remind"]
    keys = session.exec(
        select(CaseEvent.idempotency_key).where(CaseEvent.case_kind == "breach", CaseEvent.event == "remind")
    ).all()
    assert len(set(keys)) == 2  # one per stage


@pytest.mark.prefect
def test_the_flow_chases_register_decisions(prefect_harness: None, calendar: WorkCalendar) -> None:
    from flows.supervise_deadlines import supervise_deadlines
    from models.accounts import import_departments
    from models.db import get_engine
    from tests.conftest import DEPARTMENTS

    engine = get_engine()
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
        record = objected(engine, session, calendar, dt.date(2026, 3, 2))
    assert supervise_deadlines(as_of=dt.date(2026, 3, 10)) == 2
    assert supervise_deadlines(as_of=dt.date(2026, 3, 10)) == 0
    with Session(engine) as session:
        rows = session.exec(
            select(CaseEvent).where(
                CaseEvent.case_id == record.id, CaseEvent.event.in_(["warn_red", "remind"])
            )  # type: ignore[attr-defined]
        ).all()
        assert sorted(e.event for e in rows) == ["remind", "warn_red"]
        run_ids = {e.flow_run_id for e in rows}
        assert len(run_ids) == 1
        assert None not in run_ids

"""Deadline supervision: yellow/red warnings and the 催办 → 督办 → 提级 ladder, over a fortnight that
crosses the 2026 Labour Day holiday (05-01..05-05 off, Saturday 05-09 a make-up working day)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from pathlib import Path

import pytest
from sqlmodel import Session, SQLModel, col, select

from models.accounts import department_by_code
from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.complaint import ComplaintCreate
from models.complaints import ActionBody, DispatchBody, ReasonBody, act, register_complaint, supervise_batch
from models.complaints import supervision_ids as ids_to_supervise
from models.lifecycle import Role
from models.outbox import Notification
from models.workflow import Actor
from tests.conftest import Staff

INTAKE = Actor(name="受理员", role=Role.INTAKE)
SYSTEM = Actor.system("run-1")
DEADLINE = dt.date(2026, 4, 30)  # Thursday, the last working day before the holiday
FORTNIGHT = [dt.date(2026, 4, 27) + dt.timedelta(days=n) for n in range(15)]  # 04-27 .. 05-11

DATA = ComplaintCreate.model_validate(
    {
        "channel": "window",
        "complainant_name": "某某科技有限公司",
        "complainant_phone": "13900000000",
        "category": "procurement",
        "summary": "政府采购合同款项逾期未付",
        "respondent_department_code": "D01",
    }
)


def signed_case(session: Session, calendar: WorkCalendar, today: dt.date) -> int:
    """A complaint signed for by D01, its verification deadline set to ``DEADLINE``."""
    handler = Actor(
        name="经办人",
        role=Role.HANDLER,
        id=2,
        department_id=department_by_code(session=session, code="D01").id,
    )
    complaint, _ = register_complaint(
        session=session, data=DATA, actor=INTAKE, today=today, calendar=calendar
    )
    assert complaint.id is not None
    common = {"session": session, "complaint_id": complaint.id, "today": today, "calendar": calendar}
    act(action="accept", body=ActionBody(), actor=INTAKE, **common)  # type: ignore[arg-type]
    act(action="dispatch", body=DispatchBody(lead_department_code="D01"), actor=INTAKE, **common)  # type: ignore[arg-type]
    act(action="sign_for", body=ActionBody(), actor=handler, **common)  # type: ignore[arg-type]
    complaint.stage_deadline = DEADLINE  # the verification clock, pinned to make the dates readable
    session.commit()
    return complaint.id


def run(session: Session, calendar: WorkCalendar, day: dt.date) -> int:
    return supervise_batch(
        session=session, ids=ids_to_supervise(session=session), actor=SYSTEM, today=day, calendar=calendar
    )


def steps(session: Session, cid: int) -> list[str]:
    session.expire_all()
    rows = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_id == cid, col(CaseEvent.actor_role) == "system")
        .order_by(col(CaseEvent.seq))
    )
    return [e.event for e in rows]


def test_a_fortnight_across_labour_day(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    cid = signed_case(session, calendar, today)
    fired: dict[dt.date, list[str]] = defaultdict(list)
    for day in FORTNIGHT:
        before = steps(session, cid)
        assert run(session, calendar, day) == len(steps(session, cid)) - len(before)
        fired[day] = steps(session, cid)[len(before) :]
        # A second run the same day (or a concurrent one) adds nothing.
        assert run(session, calendar, day) == 0
    assert {d.isoformat(): s for d, s in fired.items() if s} == {
        "2026-04-29": ["warn_yellow"],  # the working day before the deadline
        "2026-05-06": ["warn_red", "remind"],  # first working day after it, past the holiday
        "2026-05-08": ["supervise"],  # 3rd overdue working day
        "2026-05-11": ["escalate"],  # 5th: the make-up Saturday 05-09 counted as the 4th
    }
    session.expire_all()
    events = session.exec(
        select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == "escalate")
    ).one()
    assert events.flow_run_id == "run-1"
    assert events.idempotency_key == f"complaint:{cid}:stage4:escalate"
    # Whose move was awaited: 核实 is the 主管部门's (D00), read by the scorecard.
    d00 = department_by_code(session=session, code="D00")
    assert events.data == {
        "deadline": "2026-04-30",
        "overdue_working_days": 5,
        "awaited": "verifier",
        "awaited_department_id": d00.id,
    }

    from models.complaint import Complaint

    complaint = session.get(Complaint, cid)
    assert complaint is not None
    competent = department_by_code(session=session, code="D00")
    assert (complaint.warning_level, complaint.escalation_level) == ("red", 3)
    # 核实 is the 主管部门's move (D00 verifies D01's cases): the warnings and the chasing go to it, and it
    # has no 主管部门 of its own to be escalated to; the supervisors' alert is the 提级办理.
    assert complaint.escalated_to_department_id is None
    assert competent.name == "市发展和改革委员会"

    sent = session.exec(
        select(Notification)
        .where(Notification.case_id == cid, col(Notification.flow_run_id) == "run-1")
        .order_by(col(Notification.id))
    ).all()
    summary = [(n.template, n.recipient_name, n.context.get("level") or n.context.get("step")) for n in sent]
    assert summary == [
        ("deadline_warning", "市发展和改革委员会", "yellow"),
        ("deadline_warning", "市发展和改革委员会", "red"),
        ("supervision_notice", "市发展和改革委员会", "remind"),
        ("supervision_notice", "市发展和改革委员会", "supervise"),
        ("escalation_alert", "督办员老李", "supervise"),
        ("supervision_notice", "市发展和改革委员会", "escalate"),
        ("escalation_alert", "督办员老李", "escalate"),
    ]
    assert {n.context["department_name"] for n in sent} == {"市发展和改革委员会"}
    assert sent[0].context == {
        "case_number": complaint.number,
        "department_name": "市发展和改革委员会",
        "stage_label": "核实",
        "deadline": "2026-04-30",
        "level": "yellow",
        "working_days_left": 1,
    }
    assert sent[2].context["overdue_working_days"] == 1


def test_a_missed_week_catches_up_without_a_late_yellow(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    cid = signed_case(session, calendar, today)
    assert run(session, calendar, dt.date(2026, 5, 11)) == 4
    assert steps(session, cid) == ["warn_red", "remind", "supervise", "escalate"]


def test_non_working_days_and_paused_cases_emit_nothing(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    cid = signed_case(session, calendar, today)
    assert run(session, calendar, dt.date(2026, 5, 3)) == 0  # Sunday inside the holiday
    handler = Actor(
        name="经办人",
        role=Role.HANDLER,
        id=2,
        department_id=department_by_code(session=session, code="D01").id,
    )
    act(
        session=session,
        complaint_id=cid,
        action="await_complainant",
        body=ReasonBody(reason="请补充材料"),
        actor=handler,
        today=dt.date(2026, 4, 28),
        calendar=calendar,
    )
    session.commit()
    assert cid not in ids_to_supervise(session=session)
    assert run(session, calendar, dt.date(2026, 5, 11)) == 0
    assert steps(session, cid) == []


def test_concurrent_runs_apply_each_step_once(tmp_path: Path, calendar: WorkCalendar, today: dt.date) -> None:
    from models.accounts import import_departments
    from models.db import make_engine
    from tests.conftest import DEPARTMENTS

    engine = make_engine(f"sqlite:///{tmp_path / 'flows.db'}", create=True)
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
        cids = [signed_case(session, calendar, today) for _ in range(5)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def one_run() -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                barrier.wait()
                run(session, calendar, dt.date(2026, 5, 11))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Session(engine) as session:
        # A loser's cases are left for the next run, which then finds nothing new to do.
        run(session, calendar, dt.date(2026, 5, 11))
        assert run(session, calendar, dt.date(2026, 5, 11)) == 0
        for cid in cids:
            assert steps(session, cid) == ["warn_red", "remind", "supervise", "escalate"]
    engine.dispose()


@pytest.mark.prefect
def test_the_flow_stamps_its_run_id(prefect_harness: None, calendar: WorkCalendar, today: dt.date) -> None:
    from flows.supervise_deadlines import supervise_deadlines
    from models.accounts import import_departments
    from models.db import get_engine
    from tests.conftest import DEPARTMENTS

    engine = get_engine()  # the flow's own engine: the per-test SQLite file of SHOUXIN_DATABASE_URL
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
        cid = signed_case(session, calendar, today)
    assert supervise_deadlines(as_of=dt.date(2026, 5, 6)) == 2
    assert supervise_deadlines(as_of=dt.date(2026, 5, 6)) == 0
    with Session(engine) as session:
        rows = session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == cid, col(CaseEvent.actor_role) == "system")
            .order_by(col(CaseEvent.seq))
        ).all()
        assert [e.event for e in rows] == ["warn_red", "remind"]
        run_ids = {e.flow_run_id for e in rows}
        assert len(run_ids) == 1
        assert None not in run_ids

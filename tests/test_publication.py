"""The sweep: overdue (again after rejected evidence), warnings, reminders, publication exactly on the 7th
working day and exactly once, a December sweep without next year's calendar, and recomputed publication
days, each with its audit event."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, func, select

import models.publication_days as publication_days
from models.audit import CaseEvent, event_hash, hashed_fields
from models.breach import PublishedBreach
from models.calendar import load_calendar
from models.db import make_engine
from models.files import Upload
from models.lifecycle import PledgeState, Role
from models.outbox import Notification, enqueue
from models.platform import PlatformDocument
from models.pledge import Pledge, PledgeCreate, PledgorKind
from models.pledges import pledge_action, register_pledge, store_evidence
from models.publication import publish_due, recompute_publication_days, sweep
from models.workflow import Actor, Fired
from tests.conftest import DEPARTMENTS, Staff

CODE = "91440300708461136T"
SUPERVISOR = Actor(name="督办员", role=Role.SUPERVISOR)
SYSTEM = Actor.system("run-1")


def new_pledge(
    session: Session,
    deadline: dt.date,
    *,
    name: str = "示范建设有限公司",
    code: str | None = CODE,
    registered_on: dt.date = dt.date(2026, 1, 5),
    email: str | None = "a@example.com",
) -> Pledge:
    data = PledgeCreate(
        pledgor_kind=PledgorKind.ENTERPRISE if code else PledgorKind.INDIVIDUAL,
        pledgor_name=name,
        pledgor_credit_code=code,
        pledgor_email=email,
        matter="建筑工程施工许可证",
        obligation="施工图审查合格书",
        deadline=deadline,
        authority_code="D01",
        legal_basis="《建筑法》第八条",
    )
    pledge = register_pledge(
        session=session,
        data=data,
        actor=SUPERVISOR,
        today=registered_on,
        calendar=load_calendar(session=session),
    )
    session.commit()  # services flush, callers commit
    return pledge


def _id(pledge: Pledge) -> int:
    assert pledge.id is not None
    return pledge.id


def count(session: Session, model: type[SQLModel], *where: Any) -> int:
    return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


def run(engine: Engine, today: dt.date, **kw: Any) -> dict[str, int]:
    return sweep(engine=engine, today=today, actor=SYSTEM, **kw).counts


@pytest.mark.parametrize(
    ("deadline", "publication_day"),
    [(dt.date(2026, 2, 12), dt.date(2026, 2, 28)), (dt.date(2026, 9, 29), dt.date(2026, 10, 14))],
    ids=["spring-festival", "national-day"],
)
def test_published_exactly_on_seventh_working_day(
    engine: Engine, session: Session, staff: Staff, deadline: dt.date, publication_day: dt.date
) -> None:
    pledge = new_pledge(session, deadline)
    assert pledge.publication_day == publication_day
    day_before = publication_day - dt.timedelta(days=1)
    counts = run(engine, day_before)
    assert counts["overdue"] == 1
    assert counts["publish"] == 0
    session.expire_all()
    assert session.get(Pledge, pledge.id).state == PledgeState.OVERDUE  # type: ignore[union-attr]
    assert run(engine, publication_day)["publish"] == 1
    session.expire_all()
    pledge = session.get(Pledge, pledge.id)  # type: ignore[assignment]
    assert pledge.state == PledgeState.PUBLISHED
    assert pledge.version == 4  # register 1, overdue, warn (day 5), publish
    breach = session.exec(select(PublishedBreach)).one()
    assert breach.number.startswith(f"GS-{publication_day.year}-")
    assert breach.decision_date == publication_day
    assert breach.publication_end == publication_day.replace(year=publication_day.year + 1)
    assert breach.subject_credit_code == CODE
    assert "未在承诺期限内履行承诺" in breach.facts
    mails = {n.template for n in session.exec(select(Notification)).all()}
    assert {"pledge_registered", "pledge_overdue", "pledge_prepublication", "pledge_published"} <= mails
    # Repeated runs add nothing.
    assert run(engine, publication_day + dt.timedelta(days=3)) == {
        "recompute": 0,
        "overdue": 0,
        "warn": 0,
        "remind": 0,
        "publish": 0,
    }
    assert count(session, PublishedBreach) == 1
    assert count(session, PlatformDocument) == 1
    assert count(session, Notification, Notification.template == "pledge_published") == 1


def test_audit_chain_continues_per_case(engine: Engine, session: Session, staff: Staff) -> None:
    pledge = new_pledge(session, dt.date(2026, 2, 12))
    run(engine, dt.date(2026, 3, 2))
    events = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_kind == "pledge", CaseEvent.case_id == pledge.id)
        .order_by(col(CaseEvent.seq))
    ).all()
    assert [e.event for e in events] == ["register", "mark_overdue", "publish"]
    prev = ""
    for e in events:
        assert e.prev_hash == prev
        assert e.hash == event_hash(prev, hashed_fields(e))
        prev = e.hash
    assert events[-1].flow_run_id == "run-1"
    breach_events = session.exec(select(CaseEvent).where(CaseEvent.case_kind == "breach")).all()
    assert [(e.seq, e.event, e.to_state) for e in breach_events] == [(1, "create", "published")]


def test_catch_up_two_weeks_late(engine: Engine, session: Session, staff: Staff) -> None:
    for i in range(5):
        new_pledge(session, dt.date(2026, 2, 12), name=f"公司{i}", code=None, email=None)
    counts = run(engine, dt.date(2026, 3, 16), batch_size=2)
    assert counts["overdue"] == 5
    assert counts["publish"] == 5
    assert count(session, PublishedBreach) == 5
    # Individuals without e-mail: the mail is recorded as undeliverable, never dropped.
    assert (
        count(
            session,
            Notification,
            Notification.template == "pledge_published",
            Notification.status == "undeliverable",
        )
        == 5
    )
    # The decision date is the rule's day (2026-02-28, 7th working day after the Spring Festival), not the
    # day the late sweep ran: the publication period runs from it, so lateness never lengthens it.
    for record in session.exec(select(PublishedBreach)).all():
        assert record.decision_date == dt.date(2026, 2, 28)
        assert record.publication_end == dt.date(2027, 2, 28)
    mails = session.exec(select(Notification).where(Notification.template == "pledge_published")).all()
    assert [m.context["decision_date"] for m in mails] == ["2026-02-28"] * 5


def test_dry_run_writes_nothing(engine: Engine, session: Session, staff: Staff) -> None:
    new_pledge(session, dt.date(2026, 2, 12))
    before = count(session, CaseEvent)
    counts = run(engine, dt.date(2026, 3, 16), dry_run=True)
    assert counts["overdue"] == 1
    assert counts["publish"] == 1
    assert count(session, CaseEvent) == before
    assert count(session, PublishedBreach) == 0


def test_warnings_on_working_days_one_and_five_once(engine: Engine, session: Session, staff: Staff) -> None:
    pledge = new_pledge(session, dt.date(2026, 9, 29))
    assert run(engine, dt.date(2026, 9, 30))["warn"] == 1  # overdue working day 1
    assert run(engine, dt.date(2026, 9, 30))["warn"] == 0
    assert run(engine, dt.date(2026, 10, 8))["warn"] == 0  # day 3 (holidays in between)
    assert run(engine, dt.date(2026, 10, 12))["warn"] == 1  # day 5
    keys = session.exec(select(CaseEvent.idempotency_key).where(CaseEvent.event == "warn")).all()
    assert sorted(keys) == [f"pledge:{pledge.id}:warn:1", f"pledge:{pledge.id}:warn:5"]  # type: ignore[type-var]


def test_reminder_before_deadline(engine: Engine, session: Session, staff: Staff) -> None:
    new_pledge(session, dt.date(2026, 3, 5))
    assert run(engine, dt.date(2026, 3, 2))["remind"] == 1
    assert run(engine, dt.date(2026, 3, 3))["remind"] == 0
    assert count(session, Notification, Notification.template == "pledge_reminder") == 1


def test_confirmed_evidence_after_deadline_stops_publication(
    engine: Engine, session: Session, staff: Staff, tmp_path: object
) -> None:
    pledge = new_pledge(session, dt.date(2026, 2, 12))
    run(engine, dt.date(2026, 2, 24))  # overdue
    calendar = load_calendar(session=session)
    session.expire_all()
    handler = Actor(name="住建经办人", role=Role.HANDLER, department_id=pledge.authority_id)
    store_evidence(
        session=session,
        pledge_id=_id(pledge),
        uploads=[Upload("合格书.pdf", b"%PDF-1.7 test")],
        actor=handler,
        today=dt.date(2026, 2, 25),
        calendar=calendar,
    )
    pledge_action(
        session=session,
        pledge_id=_id(pledge),
        action="confirm",
        actor=handler,
        today=dt.date(2026, 2, 26),
        calendar=calendar,
        expected_version=None,
    )
    session.commit()  # services flush, callers commit
    assert run(engine, dt.date(2026, 3, 16))["publish"] == 0
    assert count(session, PublishedBreach) == 0


def test_two_concurrent_sweeps_publish_each_pledge_once(tmp_path: object) -> None:
    from models.accounts import import_departments

    engine = make_engine(f"sqlite:///{tmp_path}/t.db", create=True)
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
        ids = [_id(new_pledge(session, dt.date(2026, 2, 12), name=f"主体{i}", code=None)) for i in range(60)]
    today = dt.date(2026, 3, 16)
    counts = sweep(engine=engine, today=dt.date(2026, 2, 27), actor=SYSTEM, batch_size=10).counts
    assert (counts["overdue"], counts["publish"]) == (60, 0)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def worker(name: str) -> None:
        try:
            barrier.wait()
            from models.publication import run_batch

            for start in range(0, len(ids), 7):
                run_batch(
                    engine=engine,
                    step="publish",
                    ids=ids[start : start + 7],
                    today=today,
                    actor=Actor.system(name),
                )
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(f"run-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    with Session(engine) as session:
        assert count(session, PublishedBreach) == 60
        assert count(session, CaseEvent, CaseEvent.event == "publish") == 60
        assert count(session, CaseEvent, CaseEvent.case_kind == "breach") == 60
        assert count(session, PlatformDocument) == 60
        assert count(session, Notification, Notification.template == "pledge_published") == 60
    engine.dispose()


def test_publish_service_refuses_nothing_twice(session: Session, staff: Staff) -> None:
    pledge = new_pledge(session, dt.date(2026, 2, 12))
    calendar = load_calendar(session=session)
    session.execute(Pledge.__table__.update().values(state=PledgeState.OVERDUE))  # type: ignore[attr-defined]
    assert (
        publish_due(
            session=session,
            ids=[_id(pledge)],
            today=dt.date(2026, 2, 27),
            actor=SYSTEM,
            calendar=calendar,
        )
        == 0
    )  # not a day early
    assert (
        publish_due(
            session=session,
            ids=[_id(pledge)],
            today=dt.date(2026, 2, 28),
            actor=SYSTEM,
            calendar=calendar,
        )
        == 1
    )
    assert (
        publish_due(
            session=session,
            ids=[_id(pledge)],
            today=dt.date(2026, 2, 28),
            actor=SYSTEM,
            calendar=calendar,
        )
        == 0
    )


def test_pledge_overdue_again_after_rejected_evidence_gets_a_second_mail_and_batch_progresses(
    engine: Engine, session: Session, staff: Staff
) -> None:
    # Deadline 2026-03-20 is before the 7th working day of the first overdue spell, so evidence can be
    # rejected and the pledge become overdue again while still unpublished.
    again = new_pledge(session, dt.date(2026, 2, 12))
    other = new_pledge(session, dt.date(2026, 2, 26), name="另一建设有限公司", code=None)
    assert sweep(engine=engine, today=dt.date(2026, 2, 24), actor=SYSTEM).counts["overdue"] == 1
    calendar = load_calendar(session=session)
    session.expire_all()
    handler = Actor(name="住建经办人", role=Role.HANDLER, department_id=again.authority_id)
    store_evidence(
        session=session, pledge_id=_id(again), uploads=[Upload("合格书.pdf", b"%PDF-1.7 test")],
        actor=handler, today=dt.date(2026, 2, 25), calendar=calendar,
    )  # fmt: skip
    pledge_action(
        session=session, pledge_id=_id(again), action="reject_evidence", actor=handler,
        today=dt.date(2026, 2, 26), calendar=calendar, expected_version=None, reason="缺少审查机构盖章",
    )  # fmt: skip
    session.commit()

    counts = sweep(engine=engine, today=dt.date(2026, 2, 27), actor=SYSTEM).counts

    assert counts["overdue"] == 2  # the other pledge in the same batch is not held up
    session.expire_all()
    assert {session.get(Pledge, _id(p)).state for p in (again, other)} == {PledgeState.OVERDUE}  # type: ignore[union-attr]
    mails = count(
        session,
        Notification,
        col(Notification.case_id) == _id(again),
        col(Notification.template) == "pledge_overdue",
    )
    assert mails == 2
    # A re-run adds nothing.
    assert sweep(engine=engine, today=dt.date(2026, 2, 27), actor=SYSTEM).counts["overdue"] == 0
    assert count(session, Notification, col(Notification.template) == "pledge_overdue") == 3


def test_a_mail_already_queued_for_the_occurrence_is_skipped_not_an_error(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, dt.date(2026, 2, 12))
    # The overdue mail's key: its event is the pledge's second (after "register").
    enqueue(
        session=session, template="pledge_overdue", recipient_kind="pledgor", recipient_name="示范",
        recipient_email="a@example.com", key=f"pledge:{_id(pledge)}:overdue:2:pledge_overdue", context={},
    )  # fmt: skip
    session.commit()

    assert sweep(engine=engine, today=dt.date(2026, 2, 13), actor=SYSTEM).counts["overdue"] == 1

    assert count(session, Notification, col(Notification.template) == "pledge_overdue") == 1
    session.expire_all()
    assert session.get(Pledge, _id(pledge)).state == PledgeState.OVERDUE  # type: ignore[union-attr]


def test_december_sweep_without_next_years_calendar_still_publishes(
    engine: Engine, session: Session, staff: Staff
) -> None:
    due = new_pledge(session, dt.date(2026, 12, 10), registered_on=dt.date(2026, 11, 2))
    soon = new_pledge(
        session, dt.date(2026, 12, 31), name="将到期有限公司", code=None, registered_on=dt.date(2026, 11, 2)
    )
    late = new_pledge(
        session, dt.date(2027, 1, 6), name="明年到期有限公司", code=None, registered_on=dt.date(2026, 11, 2)
    )
    assert session.get(Pledge, _id(due)).publication_day is not None  # type: ignore[union-attr]

    report = sweep(engine=engine, today=dt.date(2026, 12, 30), actor=SYSTEM)

    assert report.counts["publish"] == 1
    assert report.refused == {}
    assert count(session, PublishedBreach, col(PublishedBreach.pledge_id) == _id(due)) == 1
    # The deadline inside the loaded year is reminded; the one in the unloaded year waits for its calendar.
    reminded = set(session.exec(select(CaseEvent.case_id).where(CaseEvent.event == "remind")))
    assert _id(soon) in reminded
    assert _id(late) not in reminded


def test_recompute_changes_only_the_days_of_pledges_it_audits(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = new_pledge(session, dt.date(2026, 2, 12))
    held = new_pledge(session, dt.date(2026, 2, 12), name="被锁定有限公司", code=None)
    wrong = dt.date(2026, 2, 20)
    session.execute(update(Pledge).values(publication_day=wrong))
    session.commit()
    real = publication_days.apply_event_many

    def skipping_held(*, ids: Sequence[int], **kw: Any) -> list[Fired]:
        # As when a concurrent sweep moved the row on first (its compare-and-set finds it gone).
        return real(ids=[i for i in ids if i != _id(held)], **kw)

    monkeypatch.setattr(publication_days, "apply_event_many", skipping_held)
    done = recompute_publication_days(
        session=session, calendar=load_calendar(session=session), actor=Actor.system(None)
    )
    session.commit()
    session.expire_all()

    assert done == 1
    assert session.get(Pledge, _id(taken)).publication_day == dt.date(2026, 2, 28)  # type: ignore[union-attr]
    assert session.get(Pledge, _id(held)).publication_day == wrong  # type: ignore[union-attr]
    events = set(session.exec(select(CaseEvent.case_id).where(CaseEvent.event == "recompute")))
    assert events == {_id(taken)}

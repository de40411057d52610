"""Races on a real multi-connection database: concurrent sweeps and concurrent actions on one case.

These run on a file-backed SQLite (writers serialised by the database lock) and on PostgreSQL (row locks
taken in id order, compare-and-set updates under READ COMMITTED), the two ways the product is deployed.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from api.main import create_app
from models.accounts import create_user, import_departments
from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.clock import Clock
from models.complaint import Complaint
from models.db import make_engine
from models.lifecycle import PledgeState, Role
from models.org import User, UserCreate
from models.outbox import Notification
from models.platform import PlatformDocument
from models.pledge import Pledge
from models.publication import sweep
from models.workflow import Actor
from tests.conftest import BACKENDS, DEPARTMENTS, empty_pg_database
from tests.test_complaints_api import API, BODY
from tests.test_publication import new_pledge


@pytest.fixture(params=BACKENDS)
def shared_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose connections are really separate (the in-memory test database shares one)."""
    if request.param == "postgres":
        engine = make_engine(request.getfixturevalue("pg_url"))
        empty_pg_database(engine)
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}", create=True)
        SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
    yield engine
    engine.dispose()


def _together(n: int, work: Callable[[int], None]) -> None:
    """Run ``work(i)`` in ``n`` threads released at the same moment; re-raise the first error."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors


def test_two_concurrent_sweeps_publish_each_due_pledge_exactly_once(shared_engine: Engine) -> None:
    n = 80
    with Session(shared_engine, expire_on_commit=False) as session:
        ids = [new_pledge(session, dt.date(2026, 2, 12), name=f"主体{i}", code=None).id for i in range(n)]
        late = new_pledge(session, dt.date(2026, 3, 10), name="未到公示日", code=None).id
        session.commit()
    today = dt.date(2026, 3, 16)  # 7th working day after 2026-02-12 is 2026-02-27; after 03-10 it is 03-19
    reports = {}

    def one_sweep(i: int) -> None:
        reports[i] = sweep(engine=shared_engine, today=today, actor=Actor.system(f"run-{i}"), batch_size=7)

    _together(2, one_sweep)

    assert sum(r.counts["publish"] for r in reports.values()) == n
    assert sum(r.counts["overdue"] for r in reports.values()) == n + 1
    assert sum(r.counts["warn"] for r in reports.values()) == 1  # the late pledge, warned once
    with Session(shared_engine) as session:
        breaches = session.exec(select(PublishedBreach.pledge_id)).all()
        assert sorted(breaches) == sorted(ids)
        states = Counter(session.exec(select(Pledge.state)).all())
        assert states == {PledgeState.PUBLISHED: n, PledgeState.OVERDUE: 1}
        events = session.exec(select(CaseEvent.case_kind, CaseEvent.case_id, CaseEvent.event)).all()
        per_pledge = Counter((cid, ev) for kind, cid, ev in events if kind == "pledge")
        assert all(per_pledge[(pid, "publish")] == 1 for pid in ids)
        assert all(per_pledge[(pid, "mark_overdue")] == 1 for pid in [*ids, late])
        assert per_pledge[(late, "publish")] == 0
        assert sum(1 for kind, _, ev in events if kind == "breach" and ev == "create") == n
        published = session.exec(
            select(Notification.case_id).where(Notification.template == "pledge_published")
        ).all()
        assert sorted(published) == sorted(ids)
        assert len(session.exec(select(PlatformDocument.id)).all()) == n
        # Each case's audit chain stays gap-free: seq 1..k with no duplicates.
        seqs: dict[tuple[str, int], list[int]] = {}
        for kind, cid, seq in session.exec(select(CaseEvent.case_kind, CaseEvent.case_id, CaseEvent.seq)):
            seqs.setdefault((kind, cid), []).append(seq)
        assert all(sorted(s) == list(range(1, len(s) + 1)) for s in seqs.values())


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("lock", "waits"),
    [("FOR NO KEY UPDATE", True), ("FOR KEY SHARE", False)],
    ids=["being-edited", "evidence-being-filed"],
)
def test_a_due_pledge_another_transaction_holds_is_published_that_night(
    pg_url: str, lock: str, waits: bool
) -> None:
    """PostgreSQL: the sweep waits for a transaction that holds a due pledge (a staff edit) instead of
    skipping it to the next day's sweep; a foreign-key check on the row (evidence being filed, which
    takes FOR KEY SHARE) does not hold it up at all."""
    engine = make_engine(pg_url)
    empty_pg_database(engine)
    with Session(engine, expire_on_commit=False) as session:
        import_departments(session=session, items=DEPARTMENTS)
        pledge = new_pledge(session, dt.date(2026, 2, 12))
        pledge.state = PledgeState.OVERDUE
        session.add(pledge)
        session.commit()
    holder = engine.connect()
    held = holder.begin()
    holder.execute(text(f"SELECT id FROM pledge WHERE id = :id {lock}"), {"id": pledge.id})
    counts: dict[str, int] = {}
    sweeper = threading.Thread(
        target=lambda: counts.update(
            sweep(engine=engine, today=dt.date(2026, 3, 2), actor=Actor.system()).counts
        )
    )
    sweeper.start()
    try:
        if waits:
            deadline = time.monotonic() + 30
            while not _waiting_on_a_lock(engine):
                assert sweeper.is_alive(), "the sweep ended without waiting for the pledge's row"
                assert time.monotonic() < deadline, "the sweep never waited for the held row"
                time.sleep(0.02)
        else:
            sweeper.join(timeout=60)
            assert not sweeper.is_alive(), "the sweep waited for a foreign-key check's lock"
    finally:
        held.rollback()
        holder.close()
        sweeper.join(timeout=60)
    assert counts["publish"] == 1
    with Session(engine) as session:
        assert session.get(Pledge, pledge.id).state == PledgeState.PUBLISHED  # type: ignore[union-attr]
    engine.dispose()


def _waiting_on_a_lock(engine: Engine) -> bool:
    with engine.connect() as c:
        waiting = c.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
    return bool(waiting)


def test_twenty_concurrent_actions_on_one_complaint_one_wins(shared_engine: Engine, clock: Clock) -> None:
    with Session(shared_engine) as session:
        tokens = [
            create_user(
                session=session, data=UserCreate(name=f"经办人{i}", role=Role.HANDLER, department_code="D01")
            )[1]
            for i in range(20)
        ]
        _, intake = create_user(session=session, data=UserCreate(name="受理员", role=Role.INTAKE))
        session.commit()
    client = TestClient(create_app(engine=shared_engine, clock=clock, check_schema=False))
    headers = {"Authorization": f"Bearer {intake}"}
    cid = client.post(f"{API}/complaints", json=BODY, headers=headers).json()["id"]
    client.post(f"{API}/complaints/{cid}/actions/accept", json={}, headers=headers)
    dispatched = client.post(
        f"{API}/complaints/{cid}/actions/dispatch", json={"lead_department_code": "D01"}, headers=headers
    )
    assert dispatched.status_code == 200, dispatched.text
    statuses: list[int] = []

    def sign(i: int) -> None:
        # No expected_version: the database's compare-and-set alone must pick one winner.
        response = client.post(
            f"{API}/complaints/{cid}/actions/sign_for",
            json={},
            headers={"Authorization": f"Bearer {tokens[i]}"},
        )
        statuses.append(response.status_code)

    _together(20, sign)

    assert sorted(statuses) == [200] + [409] * 19
    with Session(shared_engine) as session:
        signs = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == "sign_for")
        ).all()
        assert len(signs) == 1
        complaint = session.get(Complaint, cid)
        assert complaint is not None
        assert complaint.state == "signed"
        timeline = session.exec(
            select(CaseEvent.seq).where(CaseEvent.case_kind == "complaint", CaseEvent.case_id == cid)
        ).all()
        assert sorted(timeline) == list(range(1, len(timeline) + 1))


def test_concurrent_outbox_claims_are_disjoint(shared_engine: Engine) -> None:
    from models.clock import utcnow
    from models.outbox import NotificationStatus
    from notifications.outbox_service import claim_due

    now = utcnow()
    with Session(shared_engine) as session:
        for i in range(60):
            session.add(
                Notification(
                    template="complaint_receipt",
                    recipient_kind="complainant",
                    recipient_name=f"投诉人{i}",
                    recipient_email=f"c{i}@example.com",
                    context={},
                    status=NotificationStatus.PENDING,
                    next_attempt_at=now,
                    idempotency_key=f"race:{i}",
                    created_at=now,
                )
            )
        session.commit()
    claimed: dict[int, list[int]] = {}

    def claim(i: int) -> None:
        with Session(shared_engine) as session:
            claimed[i] = claim_due(session=session, now=now, limit=20)
            session.commit()

    _together(4, claim)

    every = [nid for ids in claimed.values() for nid in ids]
    assert len(every) == len(set(every))  # no row leased to two workers
    with Session(shared_engine) as session:
        rest = claim_due(session=session, now=now, limit=100)  # a loser's rows stay due, none is lost
        session.commit()
    assert sorted(every + rest) == list(range(1, 61))


def test_two_daily_digest_runs_at_once_queue_each_supervisors_digest_once_and_neither_fails(
    shared_engine: Engine,
) -> None:
    from models.calendar import load_calendar
    from models.digest import queue_daily_digest

    with Session(shared_engine) as session:
        for i in range(3):
            create_user(
                session=session, data=UserCreate(name=f"督办{i}", role=Role.SUPERVISOR, email=f"s{i}@x.cn")
            )
        session.commit()

    def run(i: int) -> None:
        with Session(shared_engine) as session:
            today = dt.date(2026, 3, 2)
            queue_daily_digest(session=session, today=today, calendar=load_calendar(session=session))
            session.commit()

    _together(2, run)  # a manual run beside the schedule: both read the day's keys as missing

    with Session(shared_engine) as session:
        keys = session.exec(
            select(Notification.idempotency_key).where(Notification.template == "daily_digest")
        ).all()
        supervisors = session.exec(select(User.id).where(User.role == Role.SUPERVISOR)).all()
    assert sorted(keys) == sorted(f"digest:2026-03-02:{uid}" for uid in supervisors)

"""Two runs claiming at once on PostgreSQL: while run A holds (leased, not yet committed) the first row of
a case or record, run B must not take the second (it would reach the other system first). Run B's claim
waits for A's instead; ``lock_timeout`` turns that wait into an error, so no threads or sleeps are needed.
The notifications, which have no order, still let B take other rows at once (SKIP LOCKED).
SQLite has one writer at a time: nothing to race there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, exc, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.hotline import HotlineMessage
from models.hotline import claim_due as claim_messages
from models.platform import DocumentKind
from models.platform import claim_due as claim_documents
from notifications.outbox_service import claim_due as claim_notifications
from tests.test_notifications import _queue
from tests.test_push_leases import T0, _documents, _hotline_case, _messages

NOW = T0 + dt.timedelta(minutes=1)
Claim = Callable[[Session], list[Any]]


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("runs that overlap need PostgreSQL; SQLite has one writer at a time")
    return engine


@pytest.fixture
def runs(pg: Engine) -> Iterator[tuple[Session, Session]]:
    with Session(pg, expire_on_commit=False) as run_a, Session(pg, expire_on_commit=False) as run_b:
        yield run_a, run_b


def _claim_while_other_holds(run_b: Session, claim: Claim) -> list[Any]:
    """What run B claims while run A's claim is open; nothing if B has to wait for A (the lock times out)."""
    run_b.execute(text("SET LOCAL lock_timeout = '200ms'"))
    try:
        return claim(run_b)
    except exc.OperationalError as error:
        code = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        if code != "55P03":  # lock_not_available is B waiting for A's claim; anything else is a failure
            raise
    run_b.rollback()
    return []


def _second_run_takes_nothing_while_first_holds_the_earlier_row(
    run_a: Session, run_b: Session, claim: Claim
) -> None:
    first = claim(run_a)  # leased, not committed yet
    assert len(first) == 1
    assert _claim_while_other_holds(run_b, claim) == []
    run_a.commit()
    # Once A's lease is visible, the second row waits behind the first (due_in_order).
    assert claim(run_b) == []
    run_b.commit()


def test_a_second_run_does_not_overtake_a_cases_12345_message_held_by_the_first(
    client: TestClient, session: Session, runs: tuple[Session, Session]
) -> None:
    complaint_id = _hotline_case(client, session)
    session.execute(delete(HotlineMessage))  # only the two rows below
    _messages(session, complaint_id, 2)
    run_a, run_b = runs
    _second_run_takes_nothing_while_first_holds_the_earlier_row(
        run_a, run_b, lambda run: claim_messages(session=run, now=NOW, limit=1)
    )


def test_a_second_run_does_not_overtake_a_records_platform_document_held_by_the_first(
    session: Session, runs: tuple[Session, Session]
) -> None:
    _documents(session, [DocumentKind.PUBLISH, DocumentKind.CORRECT])
    run_a, run_b = runs
    _second_run_takes_nothing_while_first_holds_the_earlier_row(
        run_a, run_b, lambda run: claim_documents(session=run, now=NOW, limit=1)
    )


def test_unordered_notifications_are_claimed_past_another_runs_rows_without_waiting(
    pg: Engine, runs: tuple[Session, Session]
) -> None:
    first_id, second_id = _queue(pg, 2)
    run_a, run_b = runs
    now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    assert claim_notifications(session=run_a, now=now, limit=1) == [first_id]
    run_b.execute(text("SET LOCAL lock_timeout = '200ms'"))
    assert claim_notifications(session=run_b, now=now, limit=1) == [second_id]
    run_a.commit()
    run_b.commit()

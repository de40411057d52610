"""The pushes to the credit platform and to 12345 lease what they claim for as long as the whole batch can
take, record an outcome only while their lease holds, and keep a record's (a case's) rows in order behind
a dead one. A second run is simulated by claiming again at a later ``now``: no threads, no sleeps."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.delivery_queue import http_lease
from models.hotline import HotlineMessage, HotlineMessageStatus
from models.hotline import claim_due as claim_messages
from models.hotline import mark_failed as mark_message_failed
from models.hotline import mark_refused as mark_message_refused
from models.hotline import mark_sent as mark_message_sent
from models.hotline import release as release_message
from models.hotline_admin import retry_dead
from models.platform import (
    DocumentKind,
    DocumentStatus,
    PlatformDocument,
    document_row,
    mark_failed,
    mark_refused,
    mark_sent,
    release,
)
from models.platform import claim_due as claim_documents
from models.platform_admin import retry_document
from notifications.hotline_push import push_due
from tests.conftest import Staff
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_hotline_results import T0 as HOTLINE_T0
from tests.test_hotline_results import _through_to_closed, hotline  # noqa: F401

T0 = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
TIMEOUT = 10.0  # seconds per HTTP request, the pushes' default
SECOND = dt.timedelta(seconds=1)


def _documents(session: Session, kinds: list[DocumentKind], *, breaches: int = 1) -> None:
    for breach_id in range(1, breaches + 1):
        for kind in kinds:
            row = document_row(kind=kind, breach_id=breach_id, number=f"SX-{breach_id}", payload={}, now=T0)
            session.add(PlatformDocument(**row))
    session.commit()


def _document(session: Session, document_id: str) -> PlatformDocument:
    session.expire_all()
    found = session.exec(select(PlatformDocument).where(PlatformDocument.document_id == document_id)).one()
    return found


def _messages(session: Session, complaint_id: int, count: int) -> None:
    for n in range(count):
        session.add(
            HotlineMessage(
                message_id=f"lease-test:{n}", complaint_id=complaint_id, stage="accepted", next_attempt_at=T0
            )
        )
    session.commit()


def _hotline_case(client: TestClient, session: Session) -> int:
    return int(post(client, new_hotline_token(session)).json()["id"])


def test_a_platform_batch_stays_leased_for_its_worst_case_so_the_next_run_posts_none_of_it(
    session: Session,
) -> None:
    _documents(session, [DocumentKind.PUBLISH], breaches=200)
    first = claim_documents(session=session, now=T0, limit=500, timeout=TIMEOUT)
    session.commit()
    assert len(first) == 200
    # The first run may still be posting: 200 documents, each up to its 10 s timeout.
    busy = T0 + dt.timedelta(seconds=200 * TIMEOUT)
    assert claim_documents(session=session, now=busy, limit=500, timeout=TIMEOUT) == []
    # A run that died mid-batch leaves its documents to come due again when the lease runs out.
    expired = T0 + http_lease(200, timeout=TIMEOUT)
    assert len(claim_documents(session=session, now=expired, limit=500, timeout=TIMEOUT)) == 200


def test_a_platform_push_that_outlived_its_lease_cannot_undo_the_receipt_the_next_run_stored(
    session: Session,
) -> None:
    _documents(session, [DocumentKind.PUBLISH])
    [stale] = claim_documents(session=session, now=T0, limit=500, timeout=TIMEOUT)
    session.commit()
    later_run = stale.leased_until + SECOND
    [fresh] = claim_documents(session=session, now=later_run, limit=500, timeout=TIMEOUT)
    assert mark_sent(session=session, document=fresh, now=later_run, receipt_id="R-1")
    session.commit()

    # The first run's answer comes in last: a 2xx without a receipt, or a timeout.
    assert not mark_sent(session=session, document=stale, now=later_run)
    assert not mark_failed(session=session, document=stale, error="ReadTimeout", now=later_run)
    assert not mark_refused(session=session, document=stale, error="HTTP 400")
    session.commit()
    doc = _document(session, "SX-1:publish")
    assert (doc.status, doc.receipt_id, doc.attempts) == (DocumentStatus.ACKNOWLEDGED, "R-1", 0)


def test_a_dead_publication_holds_back_the_records_withdrawal_until_an_admin_retries_it(
    session: Session,
) -> None:
    _documents(session, [DocumentKind.PUBLISH, DocumentKind.WITHDRAW])
    publication, withdrawal = claim_documents(session=session, now=T0, limit=500, timeout=TIMEOUT)
    assert mark_refused(session=session, document=publication, error="HTTP 400")
    assert release(session=session, document=withdrawal, now=T0)
    session.commit()
    assert claim_documents(session=session, now=T0 + SECOND, limit=500, timeout=TIMEOUT) == []

    retry_document(session=session, document_id="SX-1:publish", now=T0 + SECOND)
    session.commit()
    # Both come due again, the publication first: the push holds the withdrawal if it fails once more.
    again = claim_documents(session=session, now=T0 + SECOND, limit=500, timeout=TIMEOUT)
    assert [d.document_id for d in again] == ["SX-1:publish", "SX-1:withdraw"]


def test_a_hotline_batch_stays_leased_for_its_worst_case_so_the_next_run_posts_none_of_it(
    client: TestClient, session: Session, staff: Staff
) -> None:
    _messages(session, _hotline_case(client, session), 200)
    first = claim_messages(session=session, now=T0, limit=200, timeout=TIMEOUT)
    session.commit()
    assert len(first) == 200
    busy = T0 + dt.timedelta(seconds=200 * TIMEOUT)
    assert claim_messages(session=session, now=busy, limit=200, timeout=TIMEOUT) == []
    expired = T0 + http_lease(200, timeout=TIMEOUT)
    assert len(claim_messages(session=session, now=expired, limit=200, timeout=TIMEOUT)) == 200


def test_a_hotline_push_that_outlived_its_lease_cannot_undo_what_the_next_run_recorded(
    client: TestClient, session: Session, staff: Staff
) -> None:
    _messages(session, _hotline_case(client, session), 1)
    [stale] = claim_messages(session=session, now=T0, limit=200, timeout=TIMEOUT)
    session.commit()
    assert stale.id is not None
    stale_id, stale_lease = stale.id, stale.next_attempt_at
    later_run = stale_lease + SECOND
    [fresh] = claim_messages(session=session, now=later_run, limit=200, timeout=TIMEOUT)
    assert fresh.id == stale_id
    assert mark_message_sent(
        session=session, message_id=stale_id, now=later_run, leased_until=fresh.next_attempt_at
    )
    session.commit()

    assert not mark_message_failed(
        session=session, message_id=stale_id, error="ReadTimeout", now=later_run, leased_until=stale_lease
    )
    assert not mark_message_refused(
        session=session, message_id=stale_id, error="HTTP 400", leased_until=stale_lease
    )
    assert not release_message(session=session, message_id=stale_id, now=later_run, leased_until=stale_lease)
    session.commit()
    session.expire_all()
    row = session.get(HotlineMessage, stale_id)
    assert row is not None
    assert (row.status, row.attempts, row.last_error) == (HotlineMessageStatus.SENT, 1, None)


def test_a_dead_hotline_message_holds_back_its_cases_later_ones_until_an_admin_retries_it(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    case_id = _hotline_case(client, session)
    _through_to_closed(client, staff, case_id)
    hotline.start()
    hotline.refuse = 1  # the platform refuses the first message (accepted) once
    first = push_due(engine=engine, now=HOTLINE_T0)
    assert (first.sent, first.dead, first.held) == (0, 1, 4)
    # Later runs send nothing of the case while its first message is dead.
    assert push_due(engine=engine, now=HOTLINE_T0 + dt.timedelta(hours=1)).sent == 0

    dead = session.exec(select(HotlineMessage).order_by(col(HotlineMessage.id))).first()
    assert dead is not None
    assert dead.id is not None
    assert dead.status == HotlineMessageStatus.DEAD
    retry_dead(session=session, message_id=dead.id, now=HOTLINE_T0 + dt.timedelta(hours=1))
    session.commit()
    assert push_due(engine=engine, now=HOTLINE_T0 + dt.timedelta(hours=1)).sent == 5
    stages = [m["stage"] for m in hotline.taken.values()]
    assert stages == ["accepted", "dispatched", "signed", "replied", "closed"]

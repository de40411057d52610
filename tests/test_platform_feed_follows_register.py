"""The credit platform is told what the register shows: government breaches follow
SHOUXIN_PUBLISH_GOVERNMENT_BREACHES there too, a correction whose end already passed ends the publication
with the decision, every field has a value, and a record the platform never had is published before it
is changed."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.lifecycle import BreachState
from models.platform import DocumentKind, PlatformDocument
from models.register import decide, expire_records, expiry_candidates
from models.register.states import record_outcome
from models.settings import get_settings
from models.workflow import Actor
from notifications.platform_push import push_due
from tests.conftest import Staff
from tests.test_government_credit import confirmed
from tests.test_platform_documents import SUPERVISOR, documents, subject_files
from tests.test_publication import CODE
from tests.test_register import publish


class _Platform(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Platform.received.append(body)
        answer = json.dumps({"receipt_id": "R-" + body["document_id"]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Platform]]:
    _Platform.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Platform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_URL", f"http://127.0.0.1:{server.server_port}/push")
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SECRET", "a-real-random-secret-for-tests")
    # The push's "today" (which records the register shows) pinned to the tests' day, not the wall clock.
    monkeypatch.setenv("SHOUXIN_TODAY", "2026-03-02")
    get_settings.cache_clear()
    yield _Platform
    server.shutdown()
    server.server_close()


def _government_breaches(monkeypatch: pytest.MonkeyPatch, published: bool) -> None:
    monkeypatch.setenv("SHOUXIN_PUBLISH_GOVERNMENT_BREACHES", "true" if published else "false")
    get_settings.cache_clear()


def _received(platform: type[_Platform]) -> list[str]:
    return [d["document_id"] for d in platform.received]


def test_a_government_record_waits_while_government_breaches_are_internal_and_goes_when_on_again(
    client: TestClient,
    staff: Staff,
    session: Session,
    engine: Engine,
    platform: type[_Platform],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confirmed(client, staff)
    [record] = session.exec(select(PublishedBreach)).all()
    _government_breaches(monkeypatch, published=False)
    now = utcnow()
    push_due(engine=engine, now=now)
    push_due(engine=engine, now=now + dt.timedelta(hours=1))
    # Never shown there, so nothing to take down: its publication waits.
    assert platform.received == []
    assert [d.kind for d in documents(session)] == [DocumentKind.PUBLISH]
    _government_breaches(monkeypatch, published=True)
    push_due(engine=engine, now=now + dt.timedelta(hours=2))
    assert _received(platform) == [f"{record.number}:publish"]


def test_a_government_record_the_platform_shows_is_withdrawn_once_when_off_and_published_once_when_on(
    client: TestClient,
    staff: Staff,
    session: Session,
    engine: Engine,
    platform: type[_Platform],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confirmed(client, staff)
    [record] = session.exec(select(PublishedBreach)).all()
    now = utcnow()
    push_due(engine=engine, now=now)
    _government_breaches(monkeypatch, published=False)
    push_due(engine=engine, now=now + dt.timedelta(hours=1))
    push_due(engine=engine, now=now + dt.timedelta(hours=2))
    withdraw = f"{record.number}:withdraw:not-public:1"
    assert _received(platform) == [f"{record.number}:publish", withdraw]
    assert platform.received[1]["kind"] == "withdraw"
    assert platform.received[1]["reason"].startswith("本地不公示政府失信记录")
    # The register itself is unchanged: the record is shown again as soon as the setting is on.
    assert session.get(PublishedBreach, record.id).state == BreachState.PUBLISHED  # type: ignore[union-attr]
    _government_breaches(monkeypatch, published=True)
    push_due(engine=engine, now=now + dt.timedelta(hours=3))
    push_due(engine=engine, now=now + dt.timedelta(hours=4))
    again = f"{record.number}:publish:public-again:1"
    assert _received(platform) == [f"{record.number}:publish", withdraw, again]
    assert platform.received[2]["record"]["state"] == "published"
    # Off a second time: a second withdrawal, with an id of its own.
    _government_breaches(monkeypatch, published=False)
    push_due(engine=engine, now=now + dt.timedelta(hours=5))
    assert _received(platform)[-1] == f"{record.number}:withdraw:not-public:2"
    assert len(platform.received) == 4


def test_a_decision_made_while_off_waits_behind_the_withdrawal_and_goes_before_the_new_publication(
    client: TestClient,
    staff: Staff,
    session: Session,
    engine: Engine,
    calendar: WorkCalendar,
    platform: type[_Platform],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    confirmed(client, staff)
    [record] = session.exec(select(PublishedBreach)).all()
    now = utcnow()
    push_due(engine=engine, now=now)
    _government_breaches(monkeypatch, published=False)
    push_due(engine=engine, now=now + dt.timedelta(hours=1))
    subject_files(session, record, "object", dt.date(2026, 3, 3), calendar)
    _decide(session, record, "uphold_correct", calendar, severity="serious")
    push_due(engine=engine, now=now + dt.timedelta(hours=2))
    withdraw = f"{record.number}:withdraw:not-public:1"
    assert _received(platform) == [f"{record.number}:publish", withdraw]  # the correction waits
    _government_breaches(monkeypatch, published=True)
    push_due(engine=engine, now=now + dt.timedelta(hours=3))
    correction = f"{record.number}:correct:{record.version}"
    again = f"{record.number}:publish:public-again:1"
    assert _received(platform) == [f"{record.number}:publish", withdraw, correction, again]
    assert platform.received[-1]["record"]["severity"] == "serious"


def test_a_correction_whose_end_already_passed_ends_the_publication_with_the_decision(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))  # 一般, JDRQ 2026-02-28
    subject_files(session, record, "object", dt.date(2026, 6, 1), calendar)
    assert record.id is not None
    decided = dt.date(2026, 6, 2)
    decide(
        session=session,
        breach_id=record.id,
        action="uphold_correct",
        actor=SUPERVISOR,
        reason="情节轻微",
        today=decided,
        calendar=calendar,
        corrected={"severity": "minor"},
    )
    session.commit()
    assert (record.state, record.publication_end) == (BreachState.EXPIRED, dt.date(2026, 5, 28))
    _, correction, expiry = documents(session)
    assert (correction.kind, expiry.kind) == (DocumentKind.CORRECT, DocumentKind.EXPIRE)
    assert correction.payload["record"]["state"] == "expired"
    # Nothing dated before the decision the platform was just told of.
    assert correction.payload["record"]["effective_date"] == expiry.payload["record"]["effective_date"]
    assert expiry.payload["record"]["effective_date"] == decided.isoformat()
    # The expire flow has nothing left to do; every view reads it expired and not shown.
    next_day = decided + dt.timedelta(days=1)
    ids = expiry_candidates(session=session, today=next_day)
    assert ids == []
    assert expire_records(session=session, ids=[record.id], today=next_day, actor=Actor.system()) == 0
    outcome = record_outcome(record, decided)
    assert (outcome.state, outcome.shown, outcome.breach) == (BreachState.EXPIRED, False, True)


def test_a_field_without_a_value_is_sent_as_an_empty_string(
    engine: Engine, session: Session, staff: Staff
) -> None:
    publish(engine, session, ("张小三", None))
    [document] = documents(session)
    fields = document.payload["record"]
    assert fields["XDR_SHXYM"] == ""
    assert [name for name, value in fields.items() if value is None] == []


def _never_published(engine: Engine, session: Session, calendar: WorkCalendar) -> PublishedBreach:
    """A record as migration 0016 left a government breach: in the register, never sent to the platform."""
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    session.execute(delete(PlatformDocument))
    session.commit()
    subject_files(session, record, "object", dt.date(2026, 3, 2), calendar)
    return record


def _decide(
    session: Session, record: PublishedBreach, action: str, calendar: WorkCalendar, **fields: str
) -> None:
    assert record.id is not None
    decide(
        session=session,
        breach_id=record.id,
        action=action,
        actor=SUPERVISOR,
        reason="异议成立",
        today=dt.date(2026, 3, 4),
        calendar=calendar,
        corrected=fields or None,
    )
    session.commit()


def test_a_record_the_platform_never_had_is_published_with_its_corrected_values_instead_of_corrected(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    record = _never_published(engine, session, calendar)
    _decide(session, record, "uphold_correct", calendar, severity="serious", facts="更正后的事实")
    [document] = documents(session)
    assert (document.kind, document.document_id) == (DocumentKind.PUBLISH, f"{record.number}:publish")
    fields = document.payload["record"]
    assert (fields["severity"], fields["facts"], fields["GSJZQ"]) == ("serious", "更正后的事实", "2029-02-28")
    assert "corrections" not in fields
    assert document.payload["kind"] == "publish"
    # Once it has one, a later change is a correction again.
    subject_files(session, record, "object", dt.date(2026, 3, 5), calendar)
    _decide(session, record, "uphold_correct", calendar, facts="再次更正")
    assert [d.kind for d in documents(session)] == [DocumentKind.PUBLISH, DocumentKind.CORRECT]


def test_a_record_the_platform_never_had_is_not_withdrawn_there(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    record = _never_published(engine, session, calendar)
    _decide(session, record, "uphold_withdraw", calendar)
    assert record.state == BreachState.WITHDRAWN
    assert documents(session) == []

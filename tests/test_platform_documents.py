"""Every register change that alters what the public sees sends one document to the credit platform, with
the record as it now stands, once, and a record's documents reach the platform in the order written."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.errors import TransitionNotAllowed, ValidationFailed
from models.lifecycle import BreachState, Role
from models.platform import DocumentKind, DocumentStatus, PlatformDocument
from models.register import decide, expire_records, expiry_candidates
from models.register.requests import PUBLIC_ACTOR
from models.settings import get_settings
from models.workflow import Actor, apply_event
from notifications.platform_push import push_due
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import publish

SUPERVISOR = Actor(name="督办员", role=Role.SUPERVISOR)
REPAIR_DAY = dt.date(2026, 6, 1)  # past a 一般 record's 3-month minimum from 02-28


def documents(session: Session) -> list[PlatformDocument]:
    session.expire_all()
    return list(session.exec(select(PlatformDocument).order_by(col(PlatformDocument.id))).all())


def subject_files(
    session: Session, record: PublishedBreach, event: str, today: dt.date, calendar: WorkCalendar
) -> None:
    # The subject's own request straight through the lifecycle: how the subject proves who it is is
    # tests/test_register.py's concern, not this file's.
    apply_event(
        session=session,
        case=record,
        event=event,
        actor=PUBLIC_ACTOR,
        today=today,
        calendar=calendar,
        note="已按期提交材料",
    )
    session.commit()


def objected(engine: Engine, session: Session, calendar: WorkCalendar) -> PublishedBreach:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    subject_files(session, record, "object", dt.date(2026, 3, 2), calendar)
    return record


def repair_requested(engine: Engine, session: Session, calendar: WorkCalendar) -> PublishedBreach:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    subject_files(session, record, "request_repair", REPAIR_DAY, calendar)
    return record


def correct(session: Session, record: PublishedBreach, calendar: WorkCalendar, **fields: str) -> None:
    assert record.id is not None
    decide(
        session=session,
        breach_id=record.id,
        action="uphold_correct",
        actor=SUPERVISOR,
        reason="异议成立，更正",
        today=dt.date(2026, 3, 4),
        calendar=calendar,
        corrected=fields,
    )
    session.commit()  # the service flushes; its caller commits


def test_a_correction_sends_the_new_facts_once(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    record = objected(engine, session, calendar)
    # To 严重: one corrected to 轻微 leaves the platform instead (test_minor_records_are_not_published)
    correct(session, record, calendar, facts="逾期未提交施工图审查合格书（更正）", severity="serious")
    publish_doc, doc = documents(session)
    assert publish_doc.kind == DocumentKind.PUBLISH
    assert (doc.kind, doc.status, doc.breach_id) == (DocumentKind.CORRECT, DocumentStatus.PENDING, record.id)
    assert doc.document_id == f"{record.number}:correct:{record.version}"
    sent = doc.payload["record"]
    assert sent["facts"] == "逾期未提交施工图审查合格书（更正）"
    assert (sent["severity"], sent["severity_label"], sent["GSJZQ"]) == ("serious", "严重", "2029-02-28")
    assert (sent["state"], sent["effective_date"]) == ("published", "2026-03-04")
    assert sent["corrections"]["before"]["severity"] == "general"
    assert sent["corrections"]["after"] == {
        "facts": "逾期未提交施工图审查合格书（更正）",
        "severity": "serious",
    }
    assert doc.payload["kind"] == "correct"
    assert doc.payload["document_id"] == doc.document_id

    # The same decision again is refused by the lifecycle: no second document, the record untouched.
    with pytest.raises(TransitionNotAllowed):
        correct(session, record, calendar, facts="另一说法")
    session.rollback()
    assert len(documents(session)) == 2
    assert session.get(PublishedBreach, record.id).facts == "逾期未提交施工图审查合格书（更正）"  # type: ignore[union-attr]

    # A second objection corrected again is a second change: its own document, the first one kept.
    subject_files(session, record, "object", dt.date(2026, 3, 5), calendar)
    correct(session, record, calendar, basis="《建筑工程施工许可管理办法》第四条")
    kinds = [(d.kind, d.payload["record"]["basis"]) for d in documents(session)]
    assert kinds[1:] == [
        (DocumentKind.CORRECT, "《建筑法》第八条"),
        (DocumentKind.CORRECT, "《建筑工程施工许可管理办法》第四条"),
    ]


@pytest.mark.parametrize(
    ("setup", "action", "kind", "state"),
    [
        ("objection", "uphold_withdraw", DocumentKind.WITHDRAW, "withdrawn"),
        ("objection", "uphold_correct", DocumentKind.CORRECT, "published"),
        ("objection", "reject_objection", None, "published"),
        ("repair", "approve_repair", DocumentKind.REPAIR, "repaired"),
        ("repair", "reject_repair", None, "published"),
    ],
)
def test_each_decision_queues_at_most_one_document_and_a_replay_none(
    engine: Engine,
    session: Session,
    staff: Staff,
    calendar: WorkCalendar,
    setup: str,
    action: str,
    kind: DocumentKind | None,
    state: str,
) -> None:
    record = (objected if setup == "objection" else repair_requested)(engine, session, calendar)
    assert record.id is not None

    def decide_once() -> None:
        decide(
            session=session,
            breach_id=record.id,  # type: ignore[arg-type]
            action=action,
            # The deciding department's handler: a pledge record's repair is not the supervisors' to decide.
            actor=Actor(name="经办人", role=Role.HANDLER, department_id=record.department_id),
            reason="决定理由",
            today=REPAIR_DAY,
            calendar=calendar,
            corrected={"matter": "建筑工程施工许可证核发"},
        )
        session.commit()

    decide_once()
    with pytest.raises(TransitionNotAllowed):
        decide_once()
    session.rollback()
    after = documents(session)[1:]  # the first is the publication's
    assert [d.kind for d in after] == ([kind] if kind else [])
    for doc in after:
        assert doc.payload["record"]["state"] == state
        assert doc.payload["record"]["effective_date"] == REPAIR_DAY.isoformat()
        assert doc.payload["record"]["XDR_SHXYM"] == CODE


def test_expiry_sends_one_document_per_record_and_a_rerun_none(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    records = publish(engine, session, ("示范建设有限公司", CODE), ("张小三", None))
    day = dt.date(2027, 3, 1)
    ids = expiry_candidates(session=session, today=day)
    assert expire_records(session=session, ids=ids, today=day, actor=Actor.system()) == 2
    assert expire_records(session=session, ids=ids, today=day, actor=Actor.system()) == 0
    session.commit()
    expired = [d for d in documents(session) if d.kind == DocumentKind.EXPIRE]
    assert sorted(d.document_id for d in expired) == sorted(f"{r.number}:expire" for r in records)
    by_name = {d.payload["record"]["XDR_MC"]: d.payload["record"] for d in expired}
    # The platform gets the individual's full name, as with the publication; the public sees 张*三.
    assert set(by_name) == {"示范建设有限公司", "张小三"}
    assert {(r["state"], r["GSJZQ"], r["effective_date"]) for r in by_name.values()} == {
        ("expired", "2027-02-28", "2027-03-01")
    }


class _Platform(http.server.BaseHTTPRequestHandler):
    received: list[str] = []
    failures = 0  # answer 500 to this many requests first

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Platform.failures:
            _Platform.failures -= 1
            self.send_response(500)
        else:
            _Platform.received.append(json.loads(body)["document_id"])
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Platform]]:
    _Platform.received, _Platform.failures = [], 0
    server = http.server.HTTPServer(("127.0.0.1", 0), _Platform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_URL", f"http://127.0.0.1:{server.server_port}/push")
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SECRET", "a-real-random-secret-for-tests")
    get_settings.cache_clear()
    yield _Platform
    server.shutdown()
    server.server_close()


def test_a_correction_waits_for_its_publication_in_back_off(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar, platform: type[_Platform]
) -> None:
    record = objected(engine, session, calendar)
    correct(session, record, calendar, facts="更正后的事实")
    platform.failures = 1
    now = utcnow()
    first = push_due(engine=engine, now=now)
    # The publication failed; the correction, due as well, is held back rather than sent first.
    assert (first.sent, first.retried, platform.received) == (0, 1, [])
    assert push_due(engine=engine, now=now + dt.timedelta(seconds=1)).sent == 0
    later = push_due(engine=engine, now=now + dt.timedelta(minutes=5))
    assert later.sent == 2
    assert platform.received == [f"{record.number}:publish", f"{record.number}:correct:{record.version}"]
    assert {d.status for d in documents(session)} == {DocumentStatus.SENT}
    assert session.get(PublishedBreach, record.id).state == BreachState.PUBLISHED  # type: ignore[union-attr]


def test_a_refused_correction_changes_nothing(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    record = objected(engine, session, calendar)
    with pytest.raises(ValidationFailed, match="严重程度"):
        correct(session, record, calendar, facts="新事实", severity="catastrophic")
    session.rollback()
    session.expire_all()
    stored = session.get(PublishedBreach, record.id)
    assert stored is not None
    assert (stored.state, stored.facts != "新事实") == (BreachState.UNDER_OBJECTION, True)
    assert [d.kind for d in documents(session)] == [DocumentKind.PUBLISH]

"""The credit platform in national fields, with receipts: documents carry the exchange's fields, a delivery
is done when the platform answers with a receipt id, an outage loses nothing and delivers each document
once, unacknowledged documents become an alarm after 7 working days, and no platform configured outside
demo mode is an alarm. The platform is a local HTTP server speaking the push protocol of
docs/integrations.md."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.digest import queue_daily_digest
from models.errors import Conflict
from models.org import Department
from models.outbox import Notification
from models.platform import RECEIPT_POLL, DocumentStatus, PlatformDocument
from models.platform_admin import overdue_documents, platform_alarms, retry_document
from models.platform_fields import NATIONAL_FIELDS
from models.pledge import IdType, Pledge, PledgeType
from models.publication import sweep
from models.settings import get_settings
from models.workflow import Actor
from notifications.platform_push import push_due, sign
from notifications.render import render
from tests.conftest import Staff
from tests.test_publication import CODE, new_pledge
from tests.test_register import PUBLISHED_ON, publish
from tests.web_support import sign_in

SECRET = "a-real-random-secret-for-tests"
SHANGHAI = ZoneInfo("Asia/Shanghai")


class _Platform(http.server.BaseHTTPRequestHandler):
    """The credit platform: stores a document once per Idempotency-Key and answers with its receipt.

    ``mode``: "up" answers 200 {"receipt_id"}; "down" answers 503 (an outage); "later" answers 202
    without a receipt (still processing); "refuse" answers 400 with its reason."""

    mode: ClassVar[str] = "up"
    stored: ClassVar[dict[str, dict[str, Any]]] = {}
    posts: ClassVar[list[str]] = []
    bad_signatures: ClassVar[int] = 0
    lock = threading.Lock()

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802
        key = self.headers["Idempotency-Key"]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            _Platform.posts.append(key)
            if self.headers["X-Shouxin-Signature"] != sign(body, SECRET):
                _Platform.bad_signatures += 1
            mode = _Platform.mode
            if mode in ("up", "later"):
                _Platform.stored.setdefault(key, json.loads(body))
        if mode == "down":
            self._answer(503, {"error": "维护中"})
        elif mode == "refuse":
            self._answer(400, {"error": "XDR_SHXYM 校验位错误"})
        elif mode == "later":
            self._answer(202, {"status": "accepted"})
        else:
            self._answer(200, {"receipt_id": f"R-{key}"})

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Platform]]:
    _Platform.mode, _Platform.stored, _Platform.posts, _Platform.bad_signatures = "up", {}, [], 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Platform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_URL", f"http://127.0.0.1:{server.server_port}/push")
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SECRET", SECRET)
    get_settings.cache_clear()
    yield _Platform
    server.shutdown()
    server.server_close()
    get_settings.cache_clear()


def documents(session: Session) -> list[PlatformDocument]:
    session.expire_all()
    return list(session.exec(select(PlatformDocument).order_by(col(PlatformDocument.id))).all())


def test_documents_carry_the_national_exchange_fields(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SOURCE_NAME", "示范市社会信用体系建设领导小组办公室")
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SOURCE_CODE", "11150100MB0000000X")
    get_settings.cache_clear()
    enterprise = new_pledge(session, dt.date(2026, 2, 12))
    new_pledge(session, dt.date(2026, 2, 12), name="张小三", code=None)
    enterprise.pledge_type = PledgeType.DEFERRED_DOCUMENTS
    enterprise.legal_representative = "王大明"
    enterprise.legal_representative_id_type = IdType.RESIDENT_ID
    enterprise.legal_representative_id_number = "150102198001011234"
    session.add(enterprise)
    session.execute(
        update(Department).where(col(Department.code) == "D01").values(credit_code="11150100MB1234567A")
    )
    session.commit()
    sweep(engine=engine, today=PUBLISHED_ON, actor=Actor.system("r"))

    by_name = {d.payload["record"]["XDR_MC"]: d.payload["record"] for d in documents(session)}
    company, person = by_name["示范建设有限公司"], by_name["张小三"]
    breach = session.exec(select(PublishedBreach).where(PublishedBreach.pledge_id == enterprise.id)).one()
    assert {k: company[k] for k in NATIONAL_FIELDS} == {
        "WSH": breach.number,
        "FRDB": "王大明",
        "FR_ZJLX": "身份证",
        "FR_ZJHM": "150102198001011234",
        "SJLY": "示范市社会信用体系建设领导小组办公室",
        "SJLYDM": "11150100MB0000000X",
        "SX_RDBMDM": "11150100MB1234567A",
        "SX_CNLX": "容缺受理型",
        "SX_CNNR": "施工图审查合格书",
    }
    assert company["XDR_SHXYM"] == CODE
    # An individual has no legal representative; the pledge gave no type: empty, but present.
    assert (person["FRDB"], person["FR_ZJLX"], person["FR_ZJHM"], person["SX_CNLX"]) == ("", "", "", "")
    assert person["SX_RDBMDM"] == "11150100MB1234567A"


def test_documents_use_the_standard_names_not_the_ones_before_issue_17(
    engine: Engine, session: Session, staff: Staff
) -> None:
    new_pledge(session, dt.date(2026, 2, 12))
    sweep(engine=engine, today=PUBLISHED_ON, actor=Actor.system("r"))

    (record,) = [d.payload["record"] for d in documents(session)]
    assert set(NATIONAL_FIELDS) <= set(record)
    # Invented names a receiver might still look for (docs/integrations.md lists what replaced each).
    assert not {"FDDBR", "FDDBRZJLX", "FDDBRZJHM", "RDBMDM", "CNLX", "CNNR"} & set(record)
    # Items the national standard does not define are marked as Shouxin's own.
    assert {f for f in record if f.startswith("SX_")} == {"SX_RDBMDM", "SX_CNLX", "SX_CNNR"}


def test_an_outage_loses_nothing_and_each_document_is_delivered_once_with_its_receipt_stored(
    engine: Engine, session: Session, staff: Staff, platform: type[_Platform]
) -> None:
    records = publish(engine, session, ("示范建设有限公司", CODE), ("张小三", None), ("李四", None))
    platform.mode = "down"
    now = utcnow()
    during = push_due(engine=engine, now=now)
    assert (during.sent, during.retried) == (0, 3)
    assert {(d.status, d.receipt_id) for d in documents(session)} == {(DocumentStatus.PENDING, None)}
    assert all("HTTP 503" in (d.last_error or "") for d in documents(session))

    platform.mode = "up"
    after = push_due(engine=engine, now=now + dt.timedelta(minutes=5))
    assert (after.sent, after.acknowledged) == (3, 3)
    stored = documents(session)
    assert {d.status for d in stored} == {DocumentStatus.ACKNOWLEDGED}
    assert {d.receipt_id for d in stored} == {f"R-{r.number}:publish" for r in records}
    assert all(d.acknowledged_at is not None and d.last_error is None for d in stored)
    assert set(platform.stored) == {f"{r.number}:publish" for r in records}
    assert platform.bad_signatures == 0

    # Acknowledged documents are never sent again.
    assert push_due(engine=engine, now=now + dt.timedelta(days=30)).sent == 0
    assert len(platform.posts) == 6  # three during the outage, three after it


def test_a_document_without_a_receipt_is_asked_again_until_acknowledged(
    engine: Engine, session: Session, staff: Staff, platform: type[_Platform]
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    platform.mode = "later"
    now = utcnow()
    assert push_due(engine=engine, now=now).acknowledged == 0
    [doc] = documents(session)
    assert (doc.status, doc.receipt_id, doc.sent_at is not None) == (DocumentStatus.SENT, None, True)
    assert push_due(engine=engine, now=now + RECEIPT_POLL / 2).sent == 0  # not yet due to be asked

    platform.mode = "up"
    again = push_due(engine=engine, now=now + RECEIPT_POLL)
    assert (again.sent, again.acknowledged) == (1, 1)
    [doc] = documents(session)
    assert (doc.status, doc.receipt_id) == (DocumentStatus.ACKNOWLEDGED, f"R-{record.number}:publish")
    # The same document under the same key: the platform stored it once.
    assert platform.posts == [doc.document_id, doc.document_id]
    assert list(platform.stored) == [doc.document_id]


def test_a_refused_document_shows_its_reason_and_an_admin_retries_it(
    engine: Engine, session: Session, staff: Staff, platform: type[_Platform]
) -> None:
    publish(engine, session, ("示范建设有限公司", CODE))
    platform.mode = "refuse"
    now = utcnow()
    assert push_due(engine=engine, now=now).dead == 1
    [doc] = documents(session)
    assert doc.status == DocumentStatus.DEAD
    assert "HTTP 400" in (doc.last_error or "")
    assert "校验位错误" in (doc.last_error or "")

    retry_document(session=session, document_id=doc.document_id, now=now)
    session.commit()
    platform.mode = "up"
    assert push_due(engine=engine, now=now).acknowledged == 1
    [doc] = documents(session)
    assert doc.status == DocumentStatus.ACKNOWLEDGED
    with pytest.raises(Conflict):
        retry_document(session=session, document_id=doc.document_id)


def _written_on(session: Session, day: dt.date) -> None:
    moment = dt.datetime.combine(day, dt.time(10), SHANGHAI).astimezone(dt.UTC)
    session.execute(update(PlatformDocument).values(created_at=moment))
    session.commit()


def test_documents_unacknowledged_after_seven_working_days_are_overdue(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar, platform: type[_Platform]
) -> None:
    publish(engine, session, ("示范建设有限公司", CODE), ("张小三", None))
    _written_on(session, dt.date(2026, 3, 2))  # a Monday; its 7th working day after is Wednesday 03-11
    assert overdue_documents(session=session, today=dt.date(2026, 3, 11), calendar=calendar) == []
    late = overdue_documents(session=session, today=dt.date(2026, 3, 12), calendar=calendar)
    assert len(late) == 2
    # A configurable deadline: after 10 working days (03-16) they are not overdue yet on 03-12.
    assert (
        overdue_documents(session=session, today=dt.date(2026, 3, 12), calendar=calendar, working_days=10)
        == []
    )

    # Acknowledged documents are done, however late.
    assert push_due(engine=engine).acknowledged == 2
    alarms = platform_alarms(session=session, today=dt.date(2026, 3, 12), calendar=calendar)
    assert (alarms.overdue, alarms.unconfigured, alarms.any) == ([], False, False)


def test_no_platform_configured_outside_demo_mode_is_an_alarm_and_documents_stay_pending(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(engine, session, ("示范建设有限公司", CODE))
    report = push_due(engine=engine)
    assert (report.unconfigured, report.skipped, report.sent) == (True, False, 0)
    assert platform_alarms(session=session, today=PUBLISHED_ON, calendar=calendar).unconfigured
    assert [d.status for d in documents(session)] == [DocumentStatus.PENDING]

    monkeypatch.setenv("SHOUXIN_DEMO_MODE", "true")
    get_settings.cache_clear()
    demo = push_due(engine=engine)
    assert (demo.unconfigured, demo.skipped) == (False, True)
    assert not platform_alarms(session=session, today=PUBLISHED_ON, calendar=calendar).unconfigured
    get_settings.cache_clear()


def test_pledge_legal_representative_fields_are_optional(session: Session, staff: Staff) -> None:
    pledge = new_pledge(session, dt.date(2026, 2, 12))
    stored = session.get(Pledge, pledge.id)
    assert stored is not None
    assert (stored.pledge_type, stored.legal_representative, stored.legal_representative_id_type) == (
        None,
        None,
        None,
    )


def test_the_daily_digest_raises_the_platform_alarms(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    publish(engine, session, ("示范建设有限公司", CODE))
    _written_on(session, dt.date(2026, 3, 2))
    assert queue_daily_digest(session=session, today=dt.date(2026, 3, 12), calendar=calendar) > 0
    session.commit()
    digest = session.exec(select(Notification).where(Notification.template == "daily_digest")).first()
    assert digest is not None
    [doc] = documents(session)
    assert digest.context["platform"] == {
        "unconfigured": True,
        "unsigned": False,
        "overdue": 1,
        "overdue_documents": [doc.document_id],
        "working_days": 7,
    }
    text = render("daily_digest", digest.context)
    assert "未配置信用平台地址" in str(text)
    assert doc.document_id in str(text)


def test_a_platform_url_without_a_secret_is_an_alarm_in_health_and_the_digest(
    client: TestClient,
    session: Session,
    staff: Staff,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nothing goes out unsigned (notifications/platform_push.py): until the secret is set the documents
    # wait, and the people who can set it are told, not only the flow's log.
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_URL", "http://127.0.0.1:9/push")
    monkeypatch.delenv("SHOUXIN_CREDIT_PLATFORM_SECRET", raising=False)
    get_settings.cache_clear()
    warnings = client.get("/api/v1/health").json()["warnings"]
    assert any("SHOUXIN_CREDIT_PLATFORM_SECRET" in w for w in warnings)
    assert queue_daily_digest(session=session, today=dt.date(2026, 3, 12), calendar=calendar) > 0
    digest = session.exec(select(Notification).where(Notification.template == "daily_digest")).first()
    assert digest is not None
    assert digest.context["platform"]["unsigned"] is True
    assert "未配置签名密钥" in render("daily_digest", digest.context).text
    sign_in(client, staff.supervisor)
    assert 'id="platform-unsigned"' in client.get("/staff/dashboard").text

"""The credit platform as a peer sees it: nothing is sent unsigned, every document names the office's own
data source (a placeholder is refused at start-up), an answer that says it failed is a failure with its
reason kept and shown, an unreadable answer is retried, a stuck document can be retried or settled by hand,
and a record the platform already took down is not expired there. The platform is a local HTTP server
answering as each case needs."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app as shouxin
from models.clock import utcnow
from models.errors import Conflict
from models.platform import DocumentKind, DocumentStatus, PlatformDocument, document_row, enqueue_documents
from models.platform_admin import mark_handled, retry_document
from models.settings import Settings, get_settings
from notifications.platform_push import push_due
from tests.cli_support import cli_engine  # noqa: F401  (the CLI and the tests share one database)
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import publish
from tests.web_support import sign_in

SECRET = "a-real-random-secret-for-tests"
SOURCE_NAME = "示范市社会信用体系建设领导小组办公室"
SOURCE_CODE = "11150100MB0000000H"
runner = CliRunner()


class _Platform(http.server.BaseHTTPRequestHandler):
    """Answers every post with ``status`` and ``body``; records what it got."""

    status: ClassVar[int] = 200
    body: ClassVar[bytes] = b"{}"
    posts: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802
        data = self.rfile.read(int(self.headers["Content-Length"]))
        _Platform.posts.append({"key": self.headers["Idempotency-Key"], "body": json.loads(data)})
        self.send_response(_Platform.status)
        self.send_header("Content-Length", str(len(_Platform.body)))
        self.end_headers()
        self.wfile.write(_Platform.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Platform]]:
    _Platform.status, _Platform.body, _Platform.posts = 200, b"{}", []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Platform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_URL", f"http://127.0.0.1:{server.server_port}/push")
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SECRET", SECRET)
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SOURCE_NAME", SOURCE_NAME)
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SOURCE_CODE", SOURCE_CODE)
    get_settings.cache_clear()
    yield _Platform
    server.shutdown()
    server.server_close()
    get_settings.cache_clear()


def documents(session: Session) -> list[PlatformDocument]:
    session.expire_all()
    return list(session.exec(select(PlatformDocument).order_by(col(PlatformDocument.id))).all())


# ------------------------------------------------------------------------------------ no secret


def test_with_a_url_and_no_secret_nothing_is_sent_and_the_admin_page_says_why(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    platform: type[_Platform],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SHOUXIN_CREDIT_PLATFORM_SECRET")
    get_settings.cache_clear()
    publish(engine, session, ("示范建设有限公司", CODE))
    report = push_due(engine=engine)
    assert report.unsigned
    assert (report.sent, report.retried, report.dead) == (0, 0, 0)
    assert platform.posts == []
    assert [d.status for d in documents(session)] == [DocumentStatus.PENDING]

    pushed = runner.invoke(shouxin, ["platform", "push"])
    assert pushed.exit_code == 1
    assert "SHOUXIN_CREDIT_PLATFORM_SECRET" in pushed.stderr
    alarms = runner.invoke(shouxin, ["platform", "alarms"])
    assert alarms.exit_code == 1
    assert "SHOUXIN_CREDIT_PLATFORM_SECRET" in alarms.stdout

    sign_in(client, staff.admin)
    page = client.get("/staff/admin/platform").text
    assert 'id="platform-unsigned"' in page
    assert "SHOUXIN_CREDIT_PLATFORM_SECRET" in page
    assert platform.posts == []


# ------------------------------------------------------------------------------------ data source


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "XX市社会信用体系建设领导小组办公室"),  # the shipped issuer name, no code
        ({"SHOUXIN_CREDIT_PLATFORM_SOURCE_CODE": SOURCE_CODE}, "仍是示例值"),
        ({"SHOUXIN_CREDIT_PLATFORM_SOURCE_NAME": SOURCE_NAME}, "SHOUXIN_CREDIT_PLATFORM_SOURCE_CODE"),
        (
            {
                "SHOUXIN_CREDIT_PLATFORM_SOURCE_NAME": SOURCE_NAME,
                "SHOUXIN_CREDIT_PLATFORM_SOURCE_CODE": "11150100MB0000000X",
            },
            "校验码",
        ),
    ],
)
def test_a_platform_feed_with_a_placeholder_or_empty_source_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_URL", "https://credit.example.gov.cn/push")
    for name in (
        "SHOUXIN_CREDIT_PLATFORM_SOURCE_NAME",
        "SHOUXIN_CREDIT_PLATFORM_SOURCE_CODE",
        "SHOUXIN_ISSUER_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings()
    [error] = refused.value.errors(include_url=False)
    message = str(error["msg"])
    assert named in message
    assert "数据来源单位" in message
    assert "\n" not in message


def test_a_feed_naming_the_offices_own_source_starts_and_the_documents_carry_it(
    engine: Engine, session: Session, staff: Staff, platform: type[_Platform]
) -> None:
    assert Settings().credit_platform_source() == SOURCE_NAME
    publish(engine, session, ("示范建设有限公司", CODE))
    # A document written while the shipped placeholder was the source goes with the source as it is now.
    session.execute(
        update(PlatformDocument).values(
            payload={
                **documents(session)[0].payload,
                "record": {
                    **documents(session)[0].payload["record"],
                    "SJLY": "XX市社会信用体系建设领导小组办公室",
                    "SJLYDM": "",
                },
            }
        )
    )
    session.commit()
    _Platform.body = b'{"receipt_id": "R-1"}'
    assert push_due(engine=engine).acknowledged == 1
    [post] = platform.posts
    assert (post["body"]["record"]["SJLY"], post["body"]["record"]["SJLYDM"]) == (SOURCE_NAME, SOURCE_CODE)


# ------------------------------------------------------------------------------------ answers


def test_a_200_that_says_it_failed_is_a_failure_with_its_reason_and_holds_the_record(
    client: TestClient, engine: Engine, session: Session, staff: Staff, platform: type[_Platform]
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    # A later document of the same record, written before the push: it must wait behind the first.
    later = document_row(
        kind=DocumentKind.WITHDRAW, breach_id=record.id or 0, number=record.number, payload={}, now=utcnow()
    )
    enqueue_documents(session=session, rows=[later])
    session.commit()
    platform.status = 200
    platform.body = json.dumps(
        {"code": "INVALID_NUMBER", "error": "XDR_SHXYM 校验位错误", "success": False}, ensure_ascii=False
    ).encode()
    report = push_due(engine=engine)
    assert (report.sent, report.dead) == (0, 1)
    first, second = documents(session)
    assert first.status == DocumentStatus.DEAD
    assert "XDR_SHXYM 校验位错误" in (first.last_error or "")
    assert second.status == DocumentStatus.PENDING
    assert [p["key"] for p in platform.posts] == [first.document_id]  # the later one waited

    sign_in(client, staff.admin)
    page = client.get("/staff/admin/platform?status=dead").text
    assert "XDR_SHXYM 校验位错误" in page


def test_an_unreadable_200_is_retried_with_the_start_of_the_body_as_the_reason(
    engine: Engine, session: Session, staff: Staff, platform: type[_Platform]
) -> None:
    publish(engine, session, ("示范建设有限公司", CODE))
    platform.body = b"<html>502 Bad Gateway</html>"
    report = push_due(engine=engine)
    assert (report.sent, report.retried, report.dead) == (0, 1, 0)
    [doc] = documents(session)
    assert doc.status == DocumentStatus.PENDING
    assert "<html>502 Bad Gateway" in (doc.last_error or "")
    assert doc.next_attempt_at > utcnow()

    # An admin need not wait for the back-off: the retry makes it due at once.
    retry_document(session=session, document_id=doc.document_id)
    session.commit()
    platform.body = b'{"receipt_id": "R-9"}'
    assert push_due(engine=engine).acknowledged == 1


def test_a_sent_document_never_acknowledged_can_be_retried_and_settled_by_hand(
    engine: Engine, session: Session, staff: Staff, platform: type[_Platform]
) -> None:
    publish(engine, session, ("示范建设有限公司", CODE))
    platform.status, platform.body = 202, b'{"status": "accepted"}'
    assert push_due(engine=engine).sent == 1
    [doc] = documents(session)
    assert doc.status == DocumentStatus.SENT

    retried = runner.invoke(shouxin, ["platform", "retry", doc.document_id])
    assert retried.exit_code == 0, retried.output
    [doc] = documents(session)
    assert doc.status == DocumentStatus.PENDING
    assert push_due(engine=engine).sent == 1

    settled = runner.invoke(
        shouxin,
        ["platform", "handled", doc.document_id, "--note", "已通过报送系统手工补报", "--by", "王管理"],
    )
    assert settled.exit_code == 0, settled.output
    [doc] = documents(session)
    assert (doc.status, doc.handled_by) == (DocumentStatus.HANDLED, "王管理")


def test_a_pending_document_never_tried_is_not_stuck(engine: Engine, session: Session, staff: Staff) -> None:
    publish(engine, session, ("示范建设有限公司", CODE))
    [doc] = documents(session)
    with pytest.raises(Conflict, match="只能重推失败的文档"):
        retry_document(session=session, document_id=doc.document_id)
    with pytest.raises(Conflict):
        mark_handled(
            session=session, document_id=doc.document_id, note="已手工补报", by="王管理", now=utcnow()
        )


# ------------------------------------------------------------------------------------ taken down


def _row(kind: DocumentKind, revision: str | None = None) -> dict[str, Any]:
    return document_row(
        kind=kind,
        breach_id=1,
        number="GS-1",
        payload={},
        now=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
        revision=revision,
    )


@pytest.mark.parametrize(
    "taken_down",
    [
        (DocumentKind.WITHDRAW, "minor:1"),
        (DocumentKind.WITHDRAW, "not-public:1"),
        (DocumentKind.REPAIR, None),
    ],
)
def test_a_record_the_platform_took_down_gets_no_expire(
    session: Session, taken_down: tuple[DocumentKind, str | None]
) -> None:
    enqueue_documents(session=session, rows=[_row(DocumentKind.PUBLISH), _row(DocumentKind.CORRECT, "2")])
    enqueue_documents(session=session, rows=[_row(*taken_down)])
    enqueue_documents(session=session, rows=[_row(DocumentKind.EXPIRE)])
    kinds = [d.kind for d in documents(session)]
    assert kinds == [DocumentKind.PUBLISH, DocumentKind.CORRECT, taken_down[0]]


def test_a_record_shown_again_is_expired_there(session: Session) -> None:
    enqueue_documents(
        session=session,
        rows=[
            _row(DocumentKind.PUBLISH),
            _row(DocumentKind.WITHDRAW, "minor:1"),
            _row(DocumentKind.PUBLISH, "not-minor:1"),
        ],
    )
    enqueue_documents(session=session, rows=[_row(DocumentKind.EXPIRE)])
    assert [d.document_id for d in documents(session)][-1] == "GS-1:expire"

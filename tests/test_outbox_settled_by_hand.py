"""When 12345 or the credit platform refuses a message or document for good, an admin can settle it by hand
(its content passed on another way, said how): it is never sent, and the rows after it of the same case or
record, held back behind it, go on. A note is required, a row that is not dead is refused, and the page,
the CLI and the alarms show what was done and by whom."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from cli.main import app as shouxin
from models.calendar import WorkCalendar
from models.errors import Conflict, ValidationFailed
from models.hotline import HotlineMessage, HotlineMessageStatus
from models.hotline_admin import mark_handled
from models.platform import DocumentKind, DocumentStatus, PlatformDocument, document_row
from models.platform import claim_due as claim_documents
from models.platform import mark_refused as mark_document_refused
from models.platform import release as release_document
from models.platform_admin import mark_handled as mark_document_handled
from models.platform_admin import overdue_documents
from notifications.hotline_push import push_due
from tests.cli_support import cli_engine  # noqa: F401
from tests.conftest import Staff
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_hotline_results import T0, _through_to_closed, hotline  # noqa: F401
from tests.web_support import post_form, sign_in

NOTE = "已于 12 月 7 日在 12345 系统中手工录入受理结果"
LATER = T0 + dt.timedelta(hours=1)


def _messages(session: Session) -> list[HotlineMessage]:
    session.expire_all()
    return list(session.exec(select(HotlineMessage).order_by(col(HotlineMessage.id))).all())


def _case_with_a_dead_first_message(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> HotlineMessage:
    """A 12345 case closed in Shouxin whose first result (accepted) the platform refused: dead, and the
    four after it held back."""
    case_id = int(post(client, new_hotline_token(session)).json()["id"])
    _through_to_closed(client, staff, case_id)
    hotline.start()
    hotline.refuse = 1
    first = push_due(engine=engine, now=T0)
    assert (first.sent, first.dead, first.held) == (0, 1, 4)
    dead = _messages(session)[0]
    assert dead.status == HotlineMessageStatus.DEAD
    return dead


def test_a_dead_hotline_message_settled_by_hand_is_never_sent_and_its_cases_later_messages_go_on(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    dead = _case_with_a_dead_first_message(client, engine, session, staff, hotline)
    assert push_due(engine=engine, now=LATER).sent == 0  # held back behind the dead one
    assert dead.id is not None

    mark_handled(session=session, message_id=dead.id, note=f"  {NOTE}\n", by="王管理", now=LATER)
    session.commit()
    assert push_due(engine=engine, now=LATER).sent == 4
    assert [m["stage"] for m in hotline.taken.values()] == ["dispatched", "signed", "replied", "closed"]
    settled = _messages(session)[0]
    assert (settled.status, settled.handled_note, settled.handled_by) == (
        HotlineMessageStatus.HANDLED, NOTE, "王管理",
    )  # fmt: skip
    assert settled.handled_at == LATER
    assert "HTTP 400" in (settled.last_error or "")  # why it died stays on the row
    # Settled for good: no later run sends it, and it cannot be settled or retried a second time.
    assert push_due(engine=engine, now=LATER + dt.timedelta(days=1)).sent == 0
    with pytest.raises(Conflict):
        mark_handled(session=session, message_id=dead.id, note=NOTE, by="王管理", now=LATER)


def test_settling_by_hand_needs_a_note_and_a_dead_row(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    dead = _case_with_a_dead_first_message(client, engine, session, staff, hotline)
    held = _messages(session)[1]
    assert dead.id is not None
    assert held.id is not None
    for note in ("", "  好 ", "x" * 501):
        with pytest.raises(ValidationFailed):
            mark_handled(session=session, message_id=dead.id, note=note, by="王管理", now=LATER)
    # A message still waiting its turn is not the admin's to settle: it will be sent.
    with pytest.raises(Conflict, match="只能将发送失败"):
        mark_handled(session=session, message_id=held.id, note=NOTE, by="王管理", now=LATER)
    session.rollback()
    assert [m.status for m in _messages(session)] == [HotlineMessageStatus.DEAD] + [
        HotlineMessageStatus.PENDING
    ] * 4


def test_an_admin_settles_a_dead_message_on_the_page_and_a_refused_note_keeps_what_was_typed(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    hotline: Any,  # noqa: F811
) -> None:
    dead = _case_with_a_dead_first_message(client, engine, session, staff, hotline)
    sign_in(client, staff.admin)
    page = client.get("/staff/admin/hotline?status=dead")
    assert f"/staff/admin/hotline/{dead.id}/handled" in page.text

    short = post_form(
        client, f"/staff/admin/hotline/{dead.id}/handled", {"note": "已录"}, page="/staff/admin/hotline"
    )
    assert short.status_code == 422
    assert "至少 4 个字" in short.text
    assert 'value="已录"' in short.text  # what the admin typed is still in the field
    assert _messages(session)[0].status == HotlineMessageStatus.DEAD

    done = post_form(
        client, f"/staff/admin/hotline/{dead.id}/handled", {"note": NOTE}, page="/staff/admin/hotline"
    )
    assert done.status_code == 303, done.text
    settled = client.get(done.headers["location"])
    assert "已人工处理" in settled.text
    assert NOTE in settled.text
    assert _messages(session)[0].handled_by == "管理员"

    again = post_form(
        client, f"/staff/admin/hotline/{dead.id}/handled", {"note": NOTE}, page="/staff/admin/hotline"
    )
    assert again.status_code == 409
    assert "当前状态为 handled" in again.text


def test_a_refused_publication_settled_by_hand_lets_the_records_withdrawal_go_and_raises_no_alarm(
    session: Session, calendar: WorkCalendar
) -> None:
    written = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)
    for kind in (DocumentKind.PUBLISH, DocumentKind.WITHDRAW):
        session.add(
            PlatformDocument(**document_row(kind=kind, breach_id=1, number="SX-1", payload={}, now=written))
        )
    session.commit()
    publication, withdrawal = claim_documents(session=session, now=written, limit=500, timeout=10.0)
    assert mark_document_refused(session=session, document=publication, error="HTTP 400: 校验位错误")
    assert release_document(session=session, document=withdrawal, now=written)
    session.commit()
    assert claim_documents(session=session, now=written, limit=500, timeout=10.0) == []
    # Both unacknowledged past 7 working days: both overdue.
    assert len(overdue_documents(session=session, today=dt.date(2026, 3, 12), calendar=calendar)) == 2

    mark_document_handled(
        session=session, document_id="SX-1:publish", note="已通过报送系统手工补报", by="王管理", now=written
    )
    session.commit()
    [again] = claim_documents(session=session, now=written, limit=500, timeout=10.0)
    assert again.document_id == "SX-1:withdraw"
    overdue = overdue_documents(session=session, today=dt.date(2026, 3, 12), calendar=calendar)
    assert [d.document_id for d in overdue] == ["SX-1:withdraw"]  # the settled one is done


def test_shouxin_platform_handled_settles_a_failed_document_and_refuses_without_a_note(
    engine: Engine,
    session: Session,  # noqa: F811
) -> None:
    session.add(
        PlatformDocument(
            **document_row(kind=DocumentKind.PUBLISH, breach_id=1, number="SX-1", payload={}, now=T0),
        )
    )
    session.commit()
    session.execute(PlatformDocument.__table__.update().values(status="DEAD"))  # type: ignore[attr-defined]
    session.commit()
    runner = CliRunner()

    # Through the root command, whose handler turns a refusal into one line on stderr.
    empty = runner.invoke(shouxin, ["platform", "handled", "SX-1:publish", "--note", " "])
    assert empty.exit_code == 1
    assert "至少 4 个字" in empty.output
    done = runner.invoke(
        shouxin, ["platform", "handled", "SX-1:publish", "--note", "已手工补报", "--by", "李运维"]
    )
    assert done.exit_code == 0, done.output
    session.expire_all()
    document = session.exec(select(PlatformDocument)).one()
    assert (document.status, document.handled_by) == (DocumentStatus.HANDLED, "李运维")
    listed = runner.invoke(shouxin, ["platform", "list", "--status", "handled"])
    assert "SX-1:publish" in listed.output
    assert "已人工处理" in listed.output

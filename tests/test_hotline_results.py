"""Results back to 12345: each tracked stage change of a 12345 case is one signed message, delivered in
order to a local server speaking the protocol, through an outage, exactly once by id; refusals are dead
letters an admin retries."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.clock import utcnow
from models.hotline import HotlineMessage, HotlineMessageStatus
from models.hotline_admin import retry_dead
from models.settings import get_settings
from notifications.hotline_push import push_due
from tests.conftest import Staff
from tests.test_complaints_api import act, register
from tests.test_hotline_intake import new_hotline_token, post
from tests.web_support import post_form, sign_in

SECRET = "a-real-random-secret-for-hotline-tests"
# The first delivery run: after the messages were written (their first attempt is due when written).
T0 = utcnow() + dt.timedelta(days=1)


class _Hotline(http.server.BaseHTTPRequestHandler):
    """The 12345 platform's side: checks the signature, keeps each message id once, may refuse."""

    taken: dict[str, dict[str, Any]] = {}
    posts = 0
    refuse = 0  # answer 400 to this many requests first

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hotline.posts += 1
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(self.headers["X-Shouxin-Signature"], expected) or _Hotline.refuse:
            _Hotline.refuse = max(_Hotline.refuse - 1, 0)
            self.send_response(400)
        else:
            message = json.loads(body)
            assert self.headers["Idempotency-Key"] == message["message_id"]
            _Hotline.taken.setdefault(message["message_id"], message)
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hotline(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[_Hotline]]:
    _Hotline.taken, _Hotline.posts, _Hotline.refuse = {}, 0, 0
    server = http.server.HTTPServer(("127.0.0.1", 0), _Hotline)
    port = server.server_port
    server.server_close()  # the platform is down until the test starts it
    monkeypatch.setenv("SHOUXIN_HOTLINE_URL", f"http://127.0.0.1:{port}/results")
    monkeypatch.setenv("SHOUXIN_HOTLINE_SECRET", SECRET)
    get_settings.cache_clear()
    servers: list[http.server.HTTPServer] = []

    def start() -> None:
        up = http.server.HTTPServer(("127.0.0.1", port), _Hotline)
        threading.Thread(target=up.serve_forever, daemon=True).start()
        servers.append(up)

    _Hotline.start = staticmethod(start)  # type: ignore[attr-defined]
    yield _Hotline
    for up in servers:
        up.shutdown()
        up.server_close()


@pytest.fixture
def hotline_token(session: Session, staff: Staff) -> str:
    return new_hotline_token(session)


def messages(session: Session) -> list[HotlineMessage]:
    session.expire_all()
    return list(session.exec(select(HotlineMessage).order_by(col(HotlineMessage.id))))


def _through_to_closed(client: TestClient, staff: Staff, cid: int) -> None:
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同约定的付款条件尚未成就")
    act(client, staff, "handler", cid, "reply", reply_text="经核实，付款条件尚未成就，已向您说明。")
    act(client, staff, "intake", cid, "close", satisfaction="基本满意")


def test_each_tracked_stage_of_a_12345_case_is_one_message_and_other_cases_send_none(
    client: TestClient, session: Session, staff: Staff, hotline_token: str
) -> None:
    case = post(client, hotline_token).json()
    _through_to_closed(client, staff, case["id"])
    own = register(client, staff)  # registered here: the platform is owed nothing
    _through_to_closed(client, staff, own["id"])

    rows = messages(session)
    assert [m.stage for m in rows] == ["accepted", "dispatched", "signed", "replied", "closed"]
    assert {m.complaint_id for m in rows} == {case["id"]}
    dispatched, signed, replied, closed = (m.payload for m in rows[1:])
    assert dispatched["order_id"] == "GD2026031600012"
    assert dispatched["department"] == signed["department"] == {"code": "D01", "name": "市住房和城乡建设局"}
    assert replied["reply"] == "经核实，付款条件尚未成就，已向您说明。"
    assert (closed["result"], closed["satisfaction"]) == ("closed", "基本满意")
    assert "13900000002" not in json.dumps([m.payload for m in rows], ensure_ascii=False)


def test_not_accepted_carries_the_reason(
    client: TestClient, session: Session, staff: Staff, hotline_token: str
) -> None:
    case = post(client, hotline_token).json()
    act(
        client,
        staff,
        "intake",
        case["id"],
        "reject",
        reason="属于民事合同纠纷，应通过诉讼解决",
        route="litigation",
    )
    [message] = messages(session)
    assert (message.stage, message.payload["reason"]) == ("not_accepted", "属于民事合同纠纷，应通过诉讼解决")


def test_an_outage_loses_nothing_and_recovery_delivers_each_message_once_in_order(
    client: TestClient, engine: Engine, session: Session, staff: Staff, hotline_token: str, hotline: Any
) -> None:
    case = post(client, hotline_token).json()
    _through_to_closed(client, staff, case["id"])
    written = [m.message_id for m in messages(session)]

    down = push_due(engine=engine, now=T0)
    assert (down.sent, down.retried, down.held) == (0, 1, 4)  # the first failed; the rest wait behind it
    assert all(m.status == HotlineMessageStatus.PENDING for m in messages(session))
    # Before the first one's back-off ends, none of the case's later messages overtakes it.
    assert push_due(engine=engine, now=T0 + dt.timedelta(seconds=30)).sent == 0

    hotline.start()
    up = push_due(engine=engine, now=T0 + dt.timedelta(hours=1))
    assert up.sent == 5
    assert list(hotline.taken) == written  # in the order written
    assert push_due(engine=engine, now=T0 + dt.timedelta(hours=2)).sent == 0
    assert hotline.posts == 5  # exactly once by id
    assert all(m.status == HotlineMessageStatus.SENT for m in messages(session))


def test_a_refused_message_is_a_dead_letter_an_admin_sends_again(
    client: TestClient, engine: Engine, session: Session, staff: Staff, hotline_token: str, hotline: Any
) -> None:
    case = post(client, hotline_token).json()
    act(client, staff, "intake", case["id"], "accept")
    hotline.start()
    hotline.refuse = 1
    assert push_due(engine=engine, now=T0).dead == 1
    [dead] = messages(session)
    assert (dead.status, dead.last_error) == (HotlineMessageStatus.DEAD, "HTTP 400: ")
    assert push_due(engine=engine, now=T0 + dt.timedelta(hours=1)).sent == 0  # a dead letter waits

    assert dead.id is not None
    retry_dead(session=session, message_id=dead.id, now=T0 + dt.timedelta(hours=1))
    session.commit()
    assert push_due(engine=engine, now=T0 + dt.timedelta(hours=1)).sent == 1
    assert [m.status for m in messages(session)] == [HotlineMessageStatus.SENT]
    assert list(hotline.taken) == [dead.message_id]


def test_nothing_is_sent_while_no_hotline_url_is_configured(
    client: TestClient, engine: Engine, session: Session, staff: Staff, hotline_token: str
) -> None:
    case = post(client, hotline_token).json()
    act(client, staff, "intake", case["id"], "accept")
    assert push_due(engine=engine, now=T0).skipped
    assert [m.status for m in messages(session)] == [HotlineMessageStatus.PENDING]


def test_an_admin_sees_a_dead_message_on_the_page_with_its_reason_and_sends_it_again(
    client: TestClient, engine: Engine, session: Session, staff: Staff, hotline_token: str, hotline: Any
) -> None:
    case = post(client, hotline_token).json()
    act(client, staff, "intake", case["id"], "accept")
    hotline.start()
    hotline.refuse = 1
    assert push_due(engine=engine, now=T0).dead == 1
    [dead] = messages(session)

    sign_in(client, staff.admin)
    page = client.get("/staff/admin/hotline?status=dead")
    assert page.status_code == 200
    assert dead.message_id in page.text
    assert "HTTP 400" in page.text
    assert case["number"] in page.text
    answer = post_form(client, f"/staff/admin/hotline/{dead.id}/retry", {}, page="/staff/admin/hotline")
    assert answer.status_code == 303, answer.text
    session.expire_all()
    assert [m.status for m in messages(session)] == [HotlineMessageStatus.PENDING]
    again = post_form(client, f"/staff/admin/hotline/{dead.id}/retry", {}, page="/staff/admin/hotline")
    assert again.status_code == 409  # only a dead message is sent again

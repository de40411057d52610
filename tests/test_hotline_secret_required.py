"""Results to 12345 are never unsigned: a placeholder SHOUXIN_HOTLINE_SECRET is refused at start-up like the
credit platform's and the SMS gateway's, and with the URL set but no secret nothing is sent (an error is
logged), the messages staying pending until the secret is set."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import http.server
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.clock import utcnow
from models.hotline import HotlineMessage, HotlineMessageStatus
from models.settings import Settings, get_settings
from notifications.hotline_push import push_due
from tests.conftest import Staff
from tests.test_complaints_api import act
from tests.test_hotline_intake import new_hotline_token, post

SECRET = "a-real-random-secret-for-hotline-tests"
T0 = utcnow() + dt.timedelta(days=1)


class _Platform(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Platform.received.append((self.headers["X-Shouxin-Signature"], body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def platform_url() -> Iterator[str]:
    _Platform.received = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Platform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/results"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("placeholder", ["changeme", "secret", " ", "", "abc", "fifteen-chars-x"])
def test_a_placeholder_or_short_hotline_secret_is_refused_like_the_other_platform_secrets(
    placeholder: str,
) -> None:
    with pytest.raises(ValidationError, match="hotline_secret"):
        Settings(hotline_secret=placeholder)
    with pytest.raises(ValidationError, match="credit_platform_secret"):
        Settings(credit_platform_secret=placeholder)


def test_with_the_url_set_and_no_secret_nothing_is_sent_until_the_secret_is_set(
    client: TestClient,
    engine: Engine,
    session: Session,
    staff: Staff,
    platform_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("SHOUXIN_HOTLINE_URL", platform_url)
    monkeypatch.delenv("SHOUXIN_HOTLINE_SECRET", raising=False)
    get_settings.cache_clear()
    case = post(client, new_hotline_token(session)).json()
    act(client, staff, "intake", case["id"], "accept")

    with caplog.at_level(logging.ERROR, logger="notifications.hotline_push"):
        report = push_due(engine=engine, now=T0)
    assert report.unsigned
    assert (report.sent, report.retried, report.dead) == (0, 0, 0)
    assert _Platform.received == []
    assert any("SHOUXIN_HOTLINE_SECRET" in r.getMessage() for r in caplog.records)
    session.expire_all()
    [message] = session.exec(select(HotlineMessage)).all()
    assert (message.status, message.attempts) == (HotlineMessageStatus.PENDING, 0)

    monkeypatch.setenv("SHOUXIN_HOTLINE_SECRET", SECRET)
    get_settings.cache_clear()
    assert push_due(engine=engine, now=T0).sent == 1
    [(signature, body)] = _Platform.received
    assert signature == "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_a_shared_secret_of_sixteen_characters_is_accepted() -> None:
    assert Settings(hotline_secret="sixteen-chars-ok").hotline_secret == "sixteen-chars-ok"

"""Fault tests: the sweep killed with SIGKILL at random points, then re-run, loses and doubles nothing;
the platform push through 500s and timeouts delivers every document once."""

from __future__ import annotations

import datetime as dt
import http.server
import threading
import time
from collections import Counter
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bench.fault_sweep import drill
from models.clock import utcnow
from models.platform import DocumentStatus, PlatformDocument, push_due
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import publish


def test_sweep_killed_at_random_points_publishes_each_due_pledge_exactly_once(tmp_path: Path) -> None:
    result = drill(workdir=tmp_path, trials=20, pledges=15, seed=20260228, workers=3)
    assert result.failures == []
    # Most kills must land inside the sweep, or the drill proves nothing.
    assert result.interrupted >= 10, result


class _FlakyPlatform(http.server.BaseHTTPRequestHandler):
    """First attempt per document: 500 or a reply slower than the client's timeout; then 200.

    Like a real platform it stores a document once per Idempotency-Key, so a re-send after a timeout
    (the platform may have stored it before the reply was lost) is acknowledged but not stored again."""

    attempts: ClassVar[Counter[str]] = Counter()
    stored: ClassVar[dict[str, bytes]] = {}
    lock = threading.Lock()

    def do_POST(self) -> None:
        key = self.headers["Idempotency-Key"]
        body = self.rfile.read(int(self.headers["Content-Length"]))
        with self.lock:
            self.attempts[key] += 1
            attempt = self.attempts[key]
            # Alternate the first failure between the two kinds, in order of arrival.
            first_kind = "timeout" if len(self.attempts) % 2 else "500"
        if attempt == 1 and first_kind == "500":
            self.send_response(500)
            self.end_headers()
            return
        if attempt == 1:
            with self.lock:
                self.stored.setdefault(key, body)
            time.sleep(0.6)  # longer than the client's timeout: the reply is lost
        with self.lock:
            self.stored.setdefault(key, body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def test_platform_push_through_500s_and_timeouts_delivers_every_document_once(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert staff.admin
    _FlakyPlatform.attempts = Counter()
    _FlakyPlatform.stored = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _FlakyPlatform)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_URL", f"http://127.0.0.1:{server.server_port}/push")
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SECRET", "a-real-random-secret-for-tests")
    get_settings.cache_clear()
    try:
        publish(engine, session, ("示范建设有限公司", CODE), *[(f"张{i}三", None) for i in range(5)])
        documents = {d.document_id for d in session.exec(select(PlatformDocument)).all()}
        assert len(documents) == 6
        now = utcnow()
        first = push_due(engine=engine, now=now, timeout=0.3)
        assert first.sent == 0
        assert first.retried == 6
        errors = [d.last_error or "" for d in session.exec(select(PlatformDocument)).all()]
        assert sum("HTTP 500" in e for e in errors) == 3
        assert sum("Timeout" in e for e in errors) == 3
        for minutes in (10, 60, 240, 1440):  # later passes, past every back-off
            push_due(engine=engine, now=now + dt.timedelta(minutes=minutes), timeout=0.3)
        session.expire_all()
        rows = session.exec(select(PlatformDocument)).all()
        assert {r.status for r in rows} == {DocumentStatus.SENT}
        assert set(_FlakyPlatform.stored) == documents
        # Once acknowledged, a document is never sent again: two attempts each (failure, then success).
        assert set(_FlakyPlatform.attempts.values()) == {2}
        assert push_due(engine=engine, now=now + dt.timedelta(days=7), timeout=0.3).sent == 0
        assert sum(_FlakyPlatform.attempts.values()) == 12
    finally:
        server.shutdown()

"""Delivering platform documents (models/platform.py) to the credit platform over HTTP.

Each document goes as signed JSON with ``Idempotency-Key`` = its document id, so a re-send after a lost
reply is recognised by the platform. Each outcome is committed the moment the platform answers, before
the next document goes out: a crash mid-batch re-sends at most the one document in flight.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.clock import utcnow
from models.platform import DueDocument, due_documents, mark_failed, mark_refused, mark_sent
from models.settings import get_settings


class Outcome(StrEnum):
    SENT = "sent"
    RETRY = "retry"  # 5xx, 408, 429 or no answer: try again after the back-off
    REFUSED = "refused"  # any other 4xx: the platform will not take this document


@dataclass
class PushReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: bool = False  # no platform URL configured: documents stay pending


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def deliver(
    client: httpx.Client, url: str, secret: str, document_id: str, payload: Mapping[str, Any]
) -> tuple[Outcome, str | None]:
    """POST one document; the outcome and, unless sent, the error or the platform's answer."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Shouxin-Signature": sign(body, secret),
        "Idempotency-Key": document_id,
    }
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome.RETRY, f"{type(exc).__name__}: {exc}"
    if response.is_success:
        return Outcome.SENT, None
    answer = f"HTTP {response.status_code}: {response.text[:1500]}"
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        return Outcome.REFUSED, answer
    return Outcome.RETRY, answer


def _record(
    engine: Engine,
    document: DueDocument,
    outcome: tuple[Outcome, str | None],
    now: dt.datetime,
    report: PushReport,
) -> None:
    status, error = outcome
    with Session(engine) as session:
        if status is Outcome.SENT:
            mark_sent(session=session, document=document, now=now)
            report.sent += 1
        elif status is Outcome.REFUSED:
            mark_refused(session=session, document=document, error=error or "")
            report.dead += 1
        else:
            mark_failed(session=session, document=document, error=error or "", now=now)
            report.retried += 1
        session.commit()


def push_due(
    *, engine: Engine, now: dt.datetime | None = None, limit: int = 500, timeout: float = 10.0
) -> PushReport:
    """Deliver the pending documents whose time has come; 2xx sent, 5xx/timeout retried later, 4xx dead."""
    settings = get_settings()
    report = PushReport()
    if not settings.credit_platform_url:
        report.skipped = True
        return report
    moment = now or utcnow()
    with Session(engine) as session:
        due = due_documents(session=session, now=moment, limit=limit)
    held: set[int] = set()  # records whose document failed in this round: their later ones wait too
    with httpx.Client(timeout=timeout) as client:
        for document in due:
            if document.breach_id in held:
                continue
            outcome = deliver(
                client,
                settings.credit_platform_url,
                settings.credit_platform_secret or "",
                document.document_id,
                document.payload,
            )
            if outcome[0] is Outcome.RETRY:
                held.add(document.breach_id)
            _record(engine, document, outcome, moment, report)
    return report

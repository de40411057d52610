"""Delivering platform documents (models/platform.py) to the credit platform over HTTP.

Each document goes as signed JSON with ``Idempotency-Key`` = its document id, so a re-send after a lost
reply is recognised by the platform. The delivery is done when the platform answers with a receipt id
(``{"receipt_id": "…"}`` in a 2xx answer); a 2xx without one leaves the document sent, and it is posted
again (same key) until the platform has a receipt for it. Each outcome is committed the moment the
platform answers, before the next document goes out: a crash mid-batch re-sends at most the one document
in flight. A run leases what it claims for as long as its whole batch can take, so a run that starts
meanwhile (the flow runs every minute) leaves those documents alone, and an outcome is recorded only
while its lease holds. The messages are documented in docs/integrations.md ("信用平台").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.clock import Clock, utcnow
from models.platform import (
    DueDocument,
    claim_due,
    mark_failed,
    mark_refused,
    mark_sent,
    release,
    unconfigured,
)
from models.register.government_feed import follow_government_setting, follow_minor_records
from models.settings import get_settings

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SENT = "sent"  # 2xx: with a receipt id acknowledged, without one sent and asked about again
    RETRY = "retry"  # 5xx, 408, 429 or no answer: try again after the back-off
    REFUSED = "refused"  # any other 4xx: the platform will not take this document


@dataclass
class PushReport:
    sent: int = 0  # taken by the platform (acknowledged ones included)
    acknowledged: int = 0  # with the platform's receipt id
    retried: int = 0
    dead: int = 0
    skipped: bool = False  # no platform URL configured (demo mode): documents stay pending
    # No platform URL outside demo mode: an alarm (health, digest, dashboard), documents stay pending.
    unconfigured: bool = False
    # Documents written this run to take government records off the platform, or show them again, as
    # SHOUXIN_PUBLISH_GOVERNMENT_BREACHES says, and to take down 轻微 records it still shows
    # (models/register/government_feed.py).
    government: int = 0


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def receipt_of(response: httpx.Response) -> str | None:
    """The receipt id in the platform's 2xx answer, if it gave one."""
    try:
        answer = response.json()
    except ValueError:
        return None
    receipt = answer.get("receipt_id") if isinstance(answer, dict) else None
    return str(receipt) if receipt not in (None, "") else None


def deliver(
    client: httpx.Client, url: str, secret: str, document_id: str, payload: Mapping[str, Any]
) -> tuple[Outcome, str | None]:
    """POST one document. The outcome and: when sent, the platform's receipt id (None without one);
    otherwise the error or the platform's answer."""
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
        return Outcome.SENT, receipt_of(response)
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
    status, detail = outcome
    with Session(engine) as session:
        if status is Outcome.SENT:
            done = mark_sent(session=session, document=document, now=now, receipt_id=detail)
            report.sent += 1
            report.acknowledged += detail is not None
        elif status is Outcome.REFUSED:
            done = mark_refused(session=session, document=document, error=detail or "")
            report.dead += 1
        else:
            done = mark_failed(session=session, document=document, error=detail or "", now=now)
            report.retried += 1
        session.commit()
    if not done:
        log.warning("推送文档 %s 已被另一次推送接管，本次结果未记录 (lease lost)", document.document_id)


def _release(engine: Engine, document: DueDocument, now: dt.datetime) -> None:
    with Session(engine) as session:
        release(session=session, document=document, now=now)
        session.commit()


def push_due(
    *, engine: Engine, now: dt.datetime | None = None, limit: int = 500, timeout: float = 10.0
) -> PushReport:
    """Deliver the pending documents whose time has come, and ask again about sent ones without a receipt;
    2xx sent (acknowledged with a receipt id), 5xx/timeout retried later, 4xx dead. First the platform's
    government records are brought in line with SHOUXIN_PUBLISH_GOVERNMENT_BREACHES (their documents
    written, then delivered with the rest).

    Without a platform URL nothing is sent and the documents stay pending: in demo mode that is a skip,
    otherwise an alarm (``unconfigured``, logged as an error; health and the digest show it)."""
    settings = get_settings()
    report = PushReport()
    if not settings.credit_platform_url:
        if unconfigured():
            report.unconfigured = True
            log.error("未配置信用平台地址 SHOUXIN_CREDIT_PLATFORM_URL：推送文档滞留待推送 (no platform URL)")
        else:
            report.skipped = True
        return report
    moment = now or utcnow()
    clock = Clock.from_settings(settings)
    with Session(engine) as session:
        today = clock.pinned_today or clock.local_date(moment)
        report.government = follow_government_setting(session=session, today=today, now=moment)
        report.government += follow_minor_records(session=session, today=today, now=moment)
        session.commit()
    with Session(engine) as session:
        due = claim_due(session=session, now=moment, limit=limit, timeout=timeout)
        session.commit()
    held: set[int] = set()  # records whose document did not go in this round: their later ones wait too
    with httpx.Client(timeout=timeout) as client:
        for document in due:
            if document.breach_id in held:
                _release(engine, document, moment)
                continue
            outcome = deliver(
                client,
                settings.credit_platform_url,
                settings.credit_platform_secret or "",
                document.document_id,
                document.payload,
            )
            if outcome[0] is not Outcome.SENT:
                # Retried later or dead until an admin retries it: either way the rest must not overtake.
                held.add(document.breach_id)
            _record(engine, document, outcome, moment, report)
    return report

"""Delivering platform documents (models/platform.py) to the credit platform over HTTP.

Each document goes as signed JSON with ``Idempotency-Key`` = its document id, so a re-send after a lost
reply is recognised by the platform. The delivery is done when the platform answers with a receipt id
(``{"receipt_id": "…"}`` in a 2xx answer); a 2xx without one leaves the document sent, and it is posted
again (same key) until the platform has a receipt for it. A 2xx whose body says the platform failed
(``"success": false``, an ``error``, a ``code`` other than a success code) is a refusal like a 4xx, its
reason kept; a 2xx whose body is not a JSON object (a proxy's HTML error page) is retried, its start kept as
the reason. Nothing goes unsigned: with the URL set and no secret the run sends nothing and logs an error.
Each outcome is committed the moment the platform answers, before the next document goes out: a crash
mid-batch re-sends at most the one document in flight. A run leases what it claims for as long as its whole
batch can take, so a run that starts meanwhile (the flow runs every minute) leaves those documents alone,
and an outcome is recorded only while its lease holds. The messages are documented in docs/integrations.md
("信用平台").
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
from models.platform import DueDocument, claim_due, mark_failed, mark_refused, mark_sent, release
from models.platform_admin import unconfigured
from models.register.government_feed import follow_government_setting, follow_minor_records
from models.settings import get_settings

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    SENT = "sent"  # 2xx: with a receipt id acknowledged, without one sent and asked about again
    # 5xx, 408, 429, no answer, or a 2xx that cannot be read: try again after the back-off
    RETRY = "retry"
    REFUSED = "refused"  # any other 4xx, or a 2xx saying it failed: the platform will not take it


@dataclass
class PushReport:
    sent: int = 0  # taken by the platform (acknowledged ones included)
    acknowledged: int = 0  # with the platform's receipt id
    retried: int = 0
    dead: int = 0
    skipped: bool = False  # no platform URL configured (demo mode): documents stay pending
    # No platform URL outside demo mode: an alarm (health, digest, dashboard), documents stay pending.
    unconfigured: bool = False
    # A URL without a secret: nothing is sent (a document signed with an empty key is one anybody could
    # forge), documents stay pending; logged as an error, an alarm like ``unconfigured``.
    unsigned: bool = False
    # Documents written this run to take government records off the platform, or show them again, as
    # SHOUXIN_PUBLISH_GOVERNMENT_BREACHES says, and to take down 轻微 records it still shows
    # (models/register/government_feed.py).
    government: int = 0


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# The values of an answer's ``code`` that mean it went through; any other code is the receiver's error.
SUCCESS_CODES = frozenset({"ok", "success", "0", "200"})
_REASON_CHARS = 1500


def failure_in(answer: Mapping[str, Any]) -> str | None:
    """The error code an answer's body states (``code``, else ``error``, else ``"success": false``), or
    None when it states none. An HTTP status alone is not the whole answer: a gateway or platform behind
    a proxy may answer 200 and say in the body that it failed."""
    code = answer.get("code")
    if code not in (None, "") and str(code).strip().lower() not in SUCCESS_CODES:
        return str(code)
    error = answer.get("error")
    if error not in (None, "", False):
        return str(error)
    if answer.get("success") is False:
        return "success: false"
    return None


def json_object(response: httpx.Response) -> dict[str, Any] | None:
    """The answer's body as a JSON object; an empty one for an empty body (204), None when it is
    something else (an HTML error page, a truncated body)."""
    if not response.content.strip():
        return {}
    try:
        answer = response.json()
    except ValueError:
        return None
    return answer if isinstance(answer, dict) else None


def receipt_of(response: httpx.Response) -> str | None:
    """The receipt id in the platform's 2xx answer, if it gave one."""
    answer = json_object(response) or {}
    receipt = answer.get("receipt_id")
    return str(receipt) if receipt not in (None, "") else None


def _taken(response: httpx.Response) -> tuple[Outcome, str | None]:
    """The outcome of a 2xx answer: sent (with the receipt id, if any), refused when its body says it
    failed, retried when its body cannot be read."""
    answer = json_object(response)
    if answer is None:
        return Outcome.RETRY, (
            f"平台应答无法解析 (HTTP {response.status_code}, unreadable answer): "
            f"{response.text[:_REASON_CHARS]}"
        )
    if failure_in(answer) is not None:
        return Outcome.REFUSED, f"HTTP {response.status_code}: {response.text[:_REASON_CHARS]}"
    return Outcome.SENT, receipt_of(response)


def deliver(
    client: httpx.Client,
    url: str,
    secret: str,
    document_id: str,
    payload: Mapping[str, Any],
    *,
    read_body: bool = False,
) -> tuple[Outcome, str | None]:
    """POST one document. The outcome and: when sent, the platform's receipt id (None without one);
    otherwise the error or the platform's answer. ``read_body``: a 2xx is judged by its body too (the
    credit platform's contract, docs/integrations.md "The answer"); without it (the 12345 push, whose
    contract is the status alone) any 2xx is taken."""
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
        return _taken(response) if read_body else (Outcome.SENT, receipt_of(response))
    answer = f"HTTP {response.status_code}: {response.text[:_REASON_CHARS]}"
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        return Outcome.REFUSED, answer
    return Outcome.RETRY, answer


def with_current_source(payload: Mapping[str, Any], source_name: str, source_code: str) -> dict[str, Any]:
    """``payload`` naming the data source (SJLY, SJLYDM) as configured now: a document written while no
    platform was configured carries the source as it was then (the shipped placeholder, an empty code),
    which the start-up check refuses only once a platform URL is set."""
    record = payload.get("record")
    if not isinstance(record, Mapping) or "SJLY" not in record:
        return dict(payload)  # written before the national fields existed: sent as written
    return {**payload, "record": {**record, "SJLY": source_name, "SJLYDM": source_code}}


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
    otherwise an alarm (``unconfigured``, logged as an error; health and the digest show it). With a URL
    and no secret nothing is sent either (``unsigned``, logged as an error), even in demo mode: the
    12345 push and the SMS gateway refuse the same."""
    settings = get_settings()
    report = PushReport()
    if not settings.credit_platform_url:
        if unconfigured():
            report.unconfigured = True
            log.error("未配置信用平台地址 SHOUXIN_CREDIT_PLATFORM_URL：推送文档滞留待推送 (no platform URL)")
        else:
            report.skipped = True
        return report
    secret = settings.credit_platform_secret
    if not secret:
        report.unsigned = True
        log.error(
            "已配置 SHOUXIN_CREDIT_PLATFORM_URL 但未配置 SHOUXIN_CREDIT_PLATFORM_SECRET："
            "文档不推送，滞留待推送"
            " (platform URL set without a secret: documents are not sent and stay pending)"
        )
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
    source_name, source_code = settings.credit_platform_source(), settings.credit_platform_source_code
    held: set[int] = set()  # records whose document did not go in this round: their later ones wait too
    with httpx.Client(timeout=timeout) as client:
        for document in due:
            if document.breach_id in held:
                _release(engine, document, moment)
                continue
            outcome = deliver(
                client,
                settings.credit_platform_url,
                secret,
                document.document_id,
                with_current_source(document.payload, source_name, source_code),
                read_body=True,
            )
            if outcome[0] is not Outcome.SENT:
                # Retried later or dead until an admin retries it: either way the rest must not overtake.
                held.add(document.breach_id)
            _record(engine, document, outcome, moment, report)
    return report

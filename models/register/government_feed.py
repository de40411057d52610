"""What the credit platform shows of government breaches (records from complaints) follows
SHOUXIN_PUBLISH_GOVERNMENT_BREACHES, as every view of the register does (``shown_on``).

While it is off, the push holds a government record's documents (models/platform.py ``government_held``),
and each government record the platform was told to show gets one WITHDRAW saying why (本地不公示政府失信
记录); once it is on again, each such record the register shows again gets one PUBLISH of its current
values. The push run calls ``follow_government_setting`` before it claims what is due; the documents'
ids are fixed by what the record already has, so a second run, or one racing it, writes nothing more.
The messages are documented in docs/integrations.md ("信用平台")."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from models.breach import PublishedBreach
from models.breach_record import department_names, platform_document
from models.clock import utcnow
from models.platform import (
    DELIVERED,
    STOP_KINDS,
    DocumentKind,
    DocumentStatus,
    PlatformDocument,
    enqueue_documents,
)
from models.register.states import SHOWN_STATES
from models.settings import get_settings

# The marks in the ids of the documents this module writes: ``<number>:withdraw:not-public:<n>`` and
# ``<number>:publish:public-again:<n>``, the n-th of its kind for the record.
NOT_PUBLIC = "not-public"
PUBLIC_AGAIN = "public-again"
# The reason each carries (top-level ``reason``), for the platform's operator.
REASONS = {
    NOT_PUBLIC: "本地不公示政府失信记录 (government breaches are not published locally)",
    PUBLIC_AGAIN: "本地恢复公示政府失信记录 (government breaches are published locally again)",
}


def follow_government_setting(*, session: Session, today: dt.date, now: dt.datetime | None = None) -> int:
    """Write the documents that bring the platform in line with the setting (see the module); how many.
    Only government records the register would show on ``today`` with the setting on are considered: a
    record past its GSJZQ, withdrawn or repaired has, or is about to get, its own document."""
    records = {
        r.id: r
        for r in session.scalars(
            select(PublishedBreach).where(
                col(PublishedBreach.source_kind) == "complaint",
                col(PublishedBreach.state).in_(SHOWN_STATES),
                col(PublishedBreach.publication_end) >= today,
            )
        )
    }
    if not records:
        return 0
    documents: dict[int, list[Any]] = defaultdict(list)
    found = session.execute(
        select(
            col(PlatformDocument.breach_id),
            col(PlatformDocument.id),
            col(PlatformDocument.kind),
            col(PlatformDocument.status),
            col(PlatformDocument.document_id),
        )
        .join(PublishedBreach, col(PublishedBreach.id) == col(PlatformDocument.breach_id))
        .where(
            col(PublishedBreach.source_kind) == "complaint",
            col(PublishedBreach.state).in_(SHOWN_STATES),
            col(PublishedBreach.publication_end) >= today,
        )
        .order_by(col(PlatformDocument.id))
    )
    for breach_id, *document in found:
        documents[breach_id].append(document)
    mark, kind = (
        (PUBLIC_AGAIN, DocumentKind.PUBLISH)
        if get_settings().publish_government_breaches
        else (NOT_PUBLIC, DocumentKind.WITHDRAW)
    )
    due = [
        (records[breach_id], _count(docs, kind, mark) + 1)
        for breach_id, docs in documents.items()
        if (_to_take_down(docs) if mark == NOT_PUBLIC else _to_show_again(docs))
    ]
    if not due:
        return 0
    moment = now or utcnow()
    departments = department_names(session)
    rows = []
    for record, n in due:
        row = platform_document(
            kind=kind,
            record=record,
            departments=departments,
            effective=today,
            now=moment,
            revision=f"{mark}:{n}",
        )
        row["payload"]["reason"] = REASONS[mark]
        rows.append(row)
    enqueue_documents(session=session, rows=rows, skip_existing=True)
    return len(rows)


def _count(docs: list[Any], kind: DocumentKind, mark: str) -> int:
    return sum(1 for _, k, _, document_id in docs if k == kind and f":{kind.value}:{mark}:" in document_id)


def _to_take_down(docs: list[Any]) -> bool:
    """Whether the platform shows the record, or will once what precedes is delivered: its last PUBLISH
    was delivered and nothing since took it down. A PUBLISH not yet delivered is held instead."""
    publishes = [(i, status) for i, k, status, _ in docs if k == DocumentKind.PUBLISH]
    if not publishes:
        return False
    last_publish, status = publishes[-1]
    taken_down = any(i > last_publish for i, k, _, _ in docs if k in STOP_KINDS)
    return DocumentStatus(status) in DELIVERED and not taken_down


def _to_show_again(docs: list[Any]) -> bool:
    """Whether the last document that changed whether the platform shows the record is this module's
    WITHDRAW: it was taken down for the setting only, and nothing has published it again since."""
    changes = [(k, document_id) for _, k, _, document_id in docs if k in (DocumentKind.PUBLISH, *STOP_KINDS)]
    if not changes:
        return False
    kind, document_id = changes[-1]
    return kind == DocumentKind.WITHDRAW and f":{kind.value}:{NOT_PUBLIC}:" in document_id

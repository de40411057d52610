"""What the credit platform shows of government breaches (records from complaints) follows
SHOUXIN_PUBLISH_GOVERNMENT_BREACHES, as every view of the register does (``shown_on``).

While it is off, the push holds a government record's documents (models/platform.py ``government_held``),
and each government record the platform was told to show gets one WITHDRAW saying why (本地不公示政府失信
记录); once it is on again, each such record the register shows again gets one PUBLISH of its current
values. The push run calls ``follow_government_setting`` before it claims what is due; the documents'
ids are fixed by what the record already has, so a second run, or one racing it, writes nothing more.
The messages are documented in docs/integrations.md ("信用平台").

Records of class 轻微 are not published either (RULEBOOK, publication §1), and the same documents say so
(``follow_class``): a record the platform shows that an upheld objection corrects to 轻微 gets one
WITHDRAW (本记录为轻微失信记录，依规不予公示), and one so taken down that a later correction makes 一般 or
严重 again one PUBLISH. The setting leaves 轻微 records alone: with it on they are still not shown."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from models.breach import PublishedBreach, Severity
from models.breach_record import department_names, platform_document, published_class
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
# ``<number>:withdraw:minor:<n>`` and ``<number>:publish:not-minor:<n>``: a correction to or from 轻微.
MINOR = "minor"
NOT_MINOR = "not-minor"
# The reason each carries (top-level ``reason``), for the platform's operator.
REASONS = {
    NOT_PUBLIC: "本地不公示政府失信记录 (government breaches are not published locally)",
    PUBLIC_AGAIN: "本地恢复公示政府失信记录 (government breaches are published locally again)",
    MINOR: "经异议更正为轻微失信记录，依规不予公示 (corrected to a minor record, which is not published)",
    NOT_MINOR: "经异议更正，不再属轻微失信记录，依规公示 (corrected from a minor record: published again)",
}


def follow_government_setting(*, session: Session, today: dt.date, now: dt.datetime | None = None) -> int:
    """Write the documents that bring the platform in line with the setting (see the module); how many.
    Only government records the register would show on ``today`` with the setting on are considered: a
    record past its GSJZQ, withdrawn or repaired has, or is about to get, its own document."""
    records, documents = _in_force(
        session,
        today,
        col(PublishedBreach.source_kind) == "complaint",
        # Not shown whatever the setting: taken down on its correction, never published again.
        col(PublishedBreach.severity) != Severity.MINOR,
    )
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
    return _enqueue(session, due, kind, mark, REASONS[mark], today, now)


# The reason of a 轻微 record taken down by ``follow_minor_records``: it need not have come by a correction.
MINOR_SHOWN = "轻微失信记录，依规不予公示 (a minor record, which is not published)"


def follow_minor_records(*, session: Session, today: dt.date, now: dt.datetime | None = None) -> int:
    """Take down, once, each 轻微 record in force that the platform still shows (one WITHDRAW each, marked
    as ``follow_class`` marks them); how many. A correction to 轻微 writes its own (``follow_class``):
    this catches the records the platform got before 轻微 records were kept off it, e.g. a government
    breach confirmed as 轻微 and pushed by an earlier version, so an upgrade needs no one-off step."""
    records, documents = _in_force(session, today, col(PublishedBreach.severity) == Severity.MINOR)
    kind = DocumentKind.WITHDRAW
    due = [
        (records[breach_id], _count(docs, kind, MINOR) + 1)
        for breach_id, docs in documents.items()
        if _showing(docs)
    ]
    return _enqueue(session, due, kind, MINOR, MINOR_SHOWN, today, now)


def _in_force(
    session: Session, today: dt.date, *where: Any
) -> tuple[dict[int, PublishedBreach], dict[int, list[Any]]]:
    """The records in a shown state and within their period that match ``where``, and each one's platform
    documents (id, kind, status, document id), oldest first; a record without documents is left out."""
    scope = (
        col(PublishedBreach.state).in_(SHOWN_STATES),
        col(PublishedBreach.publication_end) >= today,
        *where,
    )
    records = {r.id: r for r in session.scalars(select(PublishedBreach).where(*scope)) if r.id is not None}
    documents: dict[int, list[Any]] = defaultdict(list)
    if not records:
        return records, documents
    found = session.execute(
        select(
            col(PlatformDocument.breach_id),
            col(PlatformDocument.id),
            col(PlatformDocument.kind),
            col(PlatformDocument.status),
            col(PlatformDocument.document_id),
        )
        .join(PublishedBreach, col(PublishedBreach.id) == col(PlatformDocument.breach_id))
        .where(*scope)
        .order_by(col(PlatformDocument.id))
    )
    for breach_id, *document in found:
        documents[breach_id].append(document)
    return records, documents


def _enqueue(
    session: Session,
    due: list[tuple[PublishedBreach, int]],
    kind: DocumentKind,
    mark: str,
    reason: str,
    today: dt.date,
    now: dt.datetime | None,
) -> int:
    """One ``kind`` document per due record, its id the n-th with ``mark`` (a second run writes none)."""
    if not due:
        return 0
    moment = now or utcnow()
    departments = department_names(session)
    rows = []
    for record, n in due:
        row = platform_document(
            kind=kind, record=record, departments=departments, effective=today, now=moment,
            revision=f"{mark}:{n}",
        )  # fmt: skip
        row["payload"]["reason"] = reason
        rows.append(row)
    enqueue_documents(session=session, rows=rows, skip_existing=True)
    return len(rows)


def follow_class(
    *, session: Session, record: PublishedBreach, was_published: bool, today: dt.date, now: dt.datetime
) -> list[dict[str, Any]] | None:
    """The document an upheld correction of ``record``'s class to or from 轻微 adds after its CORRECT
    (see the module), as ``follow_government_setting`` writes them: [] when the platform needs none, None
    when it should not hear of the correction at all, since it does not show the record and will not (a
    轻微 record never published, or already taken down). ``was_published``: the class before."""
    published = published_class(record.severity)
    if published == was_published:
        return [] if published else None
    assert record.id is not None
    docs = [
        list(d)
        for d in session.execute(
            select(
                col(PlatformDocument.id),
                col(PlatformDocument.kind),
                col(PlatformDocument.status),
                col(PlatformDocument.document_id),
            )
            .where(col(PlatformDocument.breach_id) == record.id)
            .order_by(col(PlatformDocument.id))
        )
    ]
    if published:
        # Published again only if this module took it down: never published, the CORRECT becomes its
        # PUBLISH (models/platform.py); taken down otherwise, it stays down.
        mark, kind, due = NOT_MINOR, DocumentKind.PUBLISH, _last_change_is(docs, MINOR)
    else:
        # A PUBLISH not yet delivered is taken down all the same: the WITHDRAW goes after it, in order.
        mark, kind, due = MINOR, DocumentKind.WITHDRAW, _showing(docs)
    if not due:
        return [] if published else None
    row = platform_document(
        kind=kind,
        record=record,
        departments=department_names(session),
        effective=today,
        now=now,
        revision=f"{mark}:{_count(docs, kind, mark) + 1}",
    )
    row["payload"]["reason"] = REASONS[mark]
    return [row]


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
    return _last_change_is(docs, NOT_PUBLIC)


def _changes(docs: list[Any]) -> list[tuple[str, str]]:
    """(kind, document id) of the documents that changed whether the platform shows the record."""
    return [(k, document_id) for _, k, _, document_id in docs if k in (DocumentKind.PUBLISH, *STOP_KINDS)]


def _last_change_is(docs: list[Any], mark: str) -> bool:
    """Whether the record's last showing change is a WITHDRAW of this module with ``mark``."""
    changes = _changes(docs)
    if not changes:
        return False
    kind, document_id = changes[-1]
    return kind == DocumentKind.WITHDRAW and f":{DocumentKind.WITHDRAW.value}:{mark}:" in document_id


def _showing(docs: list[Any]) -> bool:
    """Whether the platform shows the record once what is written is delivered: its last showing change
    is a PUBLISH."""
    changes = _changes(docs)
    return bool(changes) and changes[-1][0] == DocumentKind.PUBLISH

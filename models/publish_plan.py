"""Publishing a batch of due pledges, prepared before the first write: each pledge's breach record, the
platform document and the pledgor's mail as far as they can be built before the breach numbers are
reserved, so the batch holds SQLite's write lock (or PostgreSQL's row locks) as briefly as it can. The
rows go in through ``bulk.insert_rows``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlmodel import Session

from models.breach import PublishedBreach, Severity
from models.breach_record import public_fields, publication_end, repair_earliest
from models.bulk import insert_rows
from models.clock import iso_date
from models.id_sets import chunks, in_list
from models.lifecycle import BreachState, PledgeState
from models.outbox import Notification, outbox_rows
from models.platform import DocumentKind, document_row, enqueue_documents
from models.pledge import Pledge
from models.settings import get_settings
from models.workflow import Actor, last_events

# The states the publish step looks at: overdue, and under review (published only when the evidence came
# late and SHOUXIN_PLEDGE_LATE_EVIDENCE_RULE=publish_on_day; otherwise held: ``publishable``).
PUBLISHABLE = (PledgeState.OVERDUE, PledgeState.EVIDENCE_SUBMITTED)


def publishable() -> ColumnElement[bool]:
    """The pledges the publish step may publish on their day: overdue ones, and, under the
    ``publish_on_day`` rule for late evidence, those whose evidence came after the deadline and is still
    undecided. Evidence on time always holds publication until the authority decides."""
    overdue: ColumnElement[bool] = _T.c.state == PledgeState.OVERDUE
    if get_settings().pledge_late_evidence_rule != "publish_on_day":
        return overdue
    late = and_(
        _T.c.state == PledgeState.EVIDENCE_SUBMITTED,
        _T.c.evidence_submitted_on.is_not(None),
        _T.c.evidence_submitted_on > _T.c.deadline,
    )
    return or_(overdue, late)


def late_evidence(row: Any) -> bool:
    """Whether the pledge's evidence under review came after its deadline (Asia/Shanghai dates)."""
    return row.evidence_submitted_on is not None and row.evidence_submitted_on > row.deadline


def held(row: Any) -> bool:
    """Whether a due pledge is held, not published: its evidence awaits the authority's decision."""
    if row.state != PledgeState.EVIDENCE_SUBMITTED:
        return False
    return not (get_settings().pledge_late_evidence_rule == "publish_on_day" and late_evidence(row))


_T = Pledge.__table__  # type: ignore[attr-defined]
_BREACHES = PublishedBreach.__table__  # type: ignore[attr-defined]
_COLUMNS = (
    _T.c.id, _T.c.number, _T.c.pledgor_kind, _T.c.pledgor_name, _T.c.pledgor_credit_code,
    _T.c.pledgor_email, _T.c.pledgor_phone, _T.c.matter, _T.c.obligation, _T.c.deadline, _T.c.legal_basis,
    _T.c.authority_id,
    _T.c.publication_day, _T.c.state, _T.c.version, _T.c.stage_seq, _T.c.stage_deadline,
    _T.c.evidence_submitted_on, _T.c.publication_counted_from,
)  # fmt: skip


@dataclass
class Planned:
    """One pledge's publication as far as it can be prepared before its breach number is known."""

    pledge: Any  # the pledge's row (the columns of _COLUMNS)
    last: tuple[int, str]  # the pledge's last audit event (seq, hash), or (0, "")
    # The breach record's columns but its number.
    breach: dict[str, Any]

    @property
    def day(self) -> str:
        """The publication day as the publish event records it."""
        day: dt.date = self.breach["decision_date"]
        return day.isoformat()


def why_published(p: Planned) -> dict[str, Any]:
    """What the publish event records about why the pledge was published on its day."""
    row = p.pledge
    why: dict[str, Any]
    if row.state == PledgeState.EVIDENCE_SUBMITTED:
        # Only under the publish_on_day rule: late evidence the authority had not decided by the day.
        why = {"reason": "late_evidence_undecided", "late_evidence_rule": "publish_on_day",
               "evidence_submitted_on": iso_date(row.evidence_submitted_on)}  # fmt: skip
    else:
        why = {"reason": "not_fulfilled_by_publication_day"}
    why["counted_from"] = (
        {"rejection": iso_date(row.publication_counted_from)}
        if row.publication_counted_from is not None
        else {"deadline": row.deadline.isoformat()}
    )
    return why


def plan_publications(
    session: Session,
    ids: Sequence[int],
    today: dt.date | None,
    severity: Severity,
    now: dt.datetime,
) -> dict[int, Planned]:
    """Read-only: the pledges among ``ids`` that are publishable ``today`` (all of them when None), with
    their breach records prepared."""
    rows: list[Any] = []
    for part in chunks(ids):
        rows += session.execute(select(*_COLUMNS).where(in_list(session, _T.c.id, part))).all()
    due = [
        row
        for row in rows
        if today is None
        or (row.state in PUBLISHABLE and row.publication_day is not None and row.publication_day <= today)
    ]
    last = last_events(session=session, kind="pledge", ids=[row.id for row in due])
    return {
        row.id: Planned(pledge=row, last=last.get(row.id, (0, "")), breach=_breach(row, severity, now))
        for row in due
    }


def _breach(pledge: Any, severity: Severity, now: dt.datetime) -> dict[str, Any]:
    # The decision date (JDRQ) is the pledge's publication day, the day the rule fixes, also when a sweep
    # catches up later (the service was down, the calendar year was missing): the publication period
    # runs from it, so a late run never keeps a record public longer than the rule allows. The events
    # still record when the publication actually happened.
    decided = pledge.publication_day
    facts = (
        f"未在承诺期限内履行承诺：承诺于 {pledge.deadline.isoformat()} 前提交“{pledge.obligation}”，"
        f"逾期未履行（承诺编号 {pledge.number}）"
    )
    return {
        "source_kind": "pledge",
        "pledge_id": pledge.id,
        "complaint_id": None,
        "subject_kind": str(pledge.pledgor_kind),
        "subject_name": pledge.pledgor_name,
        "subject_credit_code": pledge.pledgor_credit_code,
        "matter": pledge.matter,
        "facts": facts,
        "basis": pledge.legal_basis or "告知承诺书",
        "department_id": pledge.authority_id,
        "severity": severity,
        "decision_date": decided,
        "publication_end": publication_end(severity, decided),
        "repair_earliest": repair_earliest(severity, decided),
        "state": BreachState.PUBLISHED,
        "version": 1,
        "stage_seq": 0,
        "stage_deadline": None,
        "created_at": now,
        "updated_at": now,
    }


def insert_breaches(session: Session, planned: Sequence[tuple[Planned, str]]) -> dict[int, int]:
    """The records of ``planned`` with their numbers, skipping a pledge that already has one (the UNIQUE
    pledge_id); returns {pledge_id: breach_id} of the records inserted."""
    rows = [{"number": number, **p.breach} for p, number in planned]
    insert_rows(session, _BREACHES, rows, on_conflict_do_nothing=["pledge_id"])
    # The numbers were reserved for this batch alone, so the rows carrying them are the ones inserted
    # here (a pledge another sweep published keeps that sweep's number).
    numbers = [number for _, number in planned]
    inserted: dict[int, int] = {}
    for part in chunks(numbers):
        stmt = select(_BREACHES.c.pledge_id, _BREACHES.c.id).where(in_list(session, _BREACHES.c.number, part))
        inserted.update(session.execute(stmt).tuples().all())
    return inserted


def insert_notices(
    session: Session,
    published: Sequence[tuple[Planned, str, int]],
    departments: Mapping[int, tuple[str, str]],
    actor: Actor,
    now: dt.datetime,
) -> None:
    """For each published (plan, record number, breach id): the pledgor's ``pledge_published`` notice and
    the credit platform's ``publish`` document (the whole record, unmasked: the platform is not the
    public)."""
    mails, documents = [], []
    for p, number, breach_id in published:
        pledge, breach = p.pledge, p.breach
        context = {
            "pledge_number": pledge.number, "pledgor_name": pledge.pledgor_name, "matter": pledge.matter,
            "record_number": number, "decision_date": p.day,
            "publication_end": breach["publication_end"].isoformat(),
        }  # fmt: skip
        mails.extend(
            outbox_rows(
                template="pledge_published",
                recipient_kind="pledgor",
                recipient_name=pledge.pledgor_name,
                recipient_email=pledge.pledgor_email,
                recipient_phone=pledge.pledgor_phone,
                key=f"pledge:{pledge.id}:publish:pledge_published",
                context=context,
                now=now,
                case_kind="pledge",
                case_id=pledge.id,
                case_number=pledge.number,
                flow_run_id=actor.flow_run_id,
            )  # fmt: skip
        )
        record = public_fields({"number": number, **breach}, departments, mask=False)
        documents.append(
            document_row(
                kind=DocumentKind.PUBLISH, breach_id=breach_id, number=number, payload=record, now=now
            )
        )
    # A mail whose key is already queued is skipped, as for the sweep's other mails.
    table = Notification.__table__  # type: ignore[attr-defined]
    insert_rows(session, table, mails, on_conflict_do_nothing=["idempotency_key"])
    enqueue_documents(session=session, rows=documents)

"""Publishing a batch of due pledges, prepared before the first write: each pledge's breach record, the
platform document and the pledgor's mail as far as they can be built before the breach numbers are
reserved, so the batch holds SQLite's write lock (or PostgreSQL's row locks) as briefly as it can. The
rows go in through ``bulk.insert_rows``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    String,
    and_,
    case,
    func,
    literal,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from models.breach import PublishedBreach, Severity
from models.breach_record import public_fields, publication_end, repair_earliest
from models.bulk import insert_rows
from models.clock import iso_date
from models.id_sets import chunks, in_list
from models.lifecycle import BreachState, PledgeState
from models.outbox import Notification, outbox_rows
from models.platform import DocumentKind, document_row, enqueue_documents
from models.pledge import Pledge, PledgorKind
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


def _positions(columns: Sequence[Any], *names: str) -> itemgetter[Any]:
    """A getter of the named columns of a row of ``columns``, by position."""
    keys = [column.key for column in columns]
    return itemgetter(*(keys.index(name) for name in names))


# A pledge's row (_COLUMNS) read by position, in one call (a row's attributes are looked up by name one by
# one): what the plan filters on, what why_published reads, and the version publish_due checks.
_DUE = _positions(_COLUMNS, "id", "state", "publication_day")
_ID_DAY = _positions(_COLUMNS, "id", "publication_day")
_WHY = _positions(_COLUMNS, "evidence_submitted_on", "publication_counted_from", "deadline")
pledge_version = _positions(_COLUMNS, "version")


@dataclass
class Planned:
    """One pledge's publication as far as it can be prepared before its breach number is known."""

    pledge: Any  # the pledge's row (the columns of _COLUMNS)
    last: tuple[int, str]  # the pledge's last audit event (seq, hash), or (0, "")
    # The publication day as the publish event and the mail record it (the record's decision date).
    day: str


def why_published(p: Planned, from_state: str | None) -> dict[str, Any]:
    """What the publish event records about why the pledge was published on its day. ``from_state`` is
    the state the compare-and-set moved it from: a pledge read again after that UPDATE (its version
    moved since the plan's read) is already ``published`` in its row."""
    evidence_submitted_on, counted_from, deadline = _WHY(p.pledge)
    why: dict[str, Any]
    if from_state == PledgeState.EVIDENCE_SUBMITTED:
        # Only under the publish_on_day rule: late evidence the authority had not decided by the day.
        why = {"reason": "late_evidence_undecided", "late_evidence_rule": "publish_on_day",
               "evidence_submitted_on": iso_date(evidence_submitted_on)}  # fmt: skip
    else:
        why = {"reason": "not_fulfilled_by_publication_day"}
    why["counted_from"] = (
        {"rejection": iso_date(counted_from)}
        if counted_from is not None
        else {"deadline": deadline.isoformat()}
    )
    return why


def plan_publications(session: Session, ids: Sequence[int], today: dt.date | None) -> dict[int, Planned]:
    """Read-only: the pledges among ``ids`` that are publishable ``today`` (all of them when None), with
    their last audit events."""
    rows: list[Any] = []
    for part in chunks(ids):
        rows += session.execute(select(*_COLUMNS).where(in_list(session, _T.c.id, part))).all()
    due: dict[int, tuple[Any, dt.date]] = {}
    for row in rows:
        pledge_id, state, day = _DUE(row)
        if today is None or (state in PUBLISHABLE and day is not None and day <= today):
            due[pledge_id] = row, day
    last = last_events(session=session, kind="pledge", ids=list(due))
    return {
        pid: Planned(pledge=row, last=last.get(pid, (0, "")), day=day.isoformat())
        for pid, (row, day) in due.items()
    }


# What the sweep reads back of each record it inserts: what the mail and the platform document need.
_RETURNED = (
    _BREACHES.c.id, _BREACHES.c.pledge_id, _BREACHES.c.number, _BREACHES.c.subject_kind,
    _BREACHES.c.subject_name, _BREACHES.c.subject_credit_code, _BREACHES.c.matter, _BREACHES.c.facts,
    _BREACHES.c.basis, _BREACHES.c.department_id, _BREACHES.c.severity, _BREACHES.c.decision_date,
    _BREACHES.c.publication_end, _BREACHES.c.state, _BREACHES.c.repair_earliest,
)  # fmt: skip
# A record's row (_RETURNED) by position: its pledge, and its id for the breach's create event.
_PLEDGE_OF = _positions(_RETURNED, "pledge_id")
record_id = _positions(_RETURNED, "id")


def insert_breaches(
    session: Session, planned: Sequence[tuple[Planned, str]], severity: Severity, now: dt.datetime
) -> dict[int, Any]:
    """The records of ``planned`` with their numbers, skipping a pledge that already has one (the UNIQUE
    pledge_id); returns {pledge_id: record row (the columns of ``_RETURNED``)} of the records inserted.

    One ``INSERT … SELECT`` per chunk: the database copies the pledge's columns into its record and
    writes the facts from them; only the (pledge id, number) pairs and the values shared by the batch
    are bound. ``ON CONFLICT DO NOTHING … RETURNING`` returns just the rows inserted here (a pledge
    another sweep published keeps that sweep's record)."""
    inserted: dict[int, Any] = {}
    for part in chunks(planned):
        ids_days = [_ID_DAY(p.pledge) for p, _ in part]
        pairs = _numbered(session, [pledge_id for pledge_id, _ in ids_days], [number for _, number in part])
        days = {day for _, day in ids_days}
        # The decision date (JDRQ) is the pledge's publication day, the day the rule fixes, also when a
        # sweep catches up later (the service was down, the calendar year was missing): the publication
        # period runs from it, so a late run never keeps a record public longer than the rule allows.
        # The events still record when the publication actually happened.
        values = {
            "number": pairs.c.number,
            "source_kind": literal("pledge"),
            "pledge_id": _T.c.id,
            "subject_kind": case(*[(_T.c.pledgor_kind == kind, kind.value) for kind in PledgorKind]),
            "subject_name": _T.c.pledgor_name,
            "subject_credit_code": _T.c.pledgor_credit_code,
            "matter": _T.c.matter,
            "facts": _facts(session),
            "basis": func.coalesce(func.nullif(_T.c.legal_basis, ""), "告知承诺书"),
            "department_id": _T.c.authority_id,
            "severity": literal(severity, _BREACHES.c.severity.type),
            "decision_date": _T.c.publication_day,
            "publication_end": _by_day(days, lambda day: publication_end(severity, day)),
            "repair_earliest": _by_day(days, lambda day: repair_earliest(severity, day)),
            "state": literal(BreachState.PUBLISHED, _BREACHES.c.state.type),
            "version": literal(1),
            "stage_seq": literal(0),
            "created_at": literal(now, _BREACHES.c.created_at.type),
            "updated_at": literal(now, _BREACHES.c.updated_at.type),
        }
        source = select(*values.values()).where(_T.c.id == pairs.c.pledge_id).order_by(pairs.c.position)
        insert = (postgresql if session.get_bind().dialect.name == "postgresql" else sqlite).insert(_BREACHES)
        stmt = (
            insert.from_select(list(values), source)
            .on_conflict_do_nothing(index_elements=["pledge_id"])
            .returning(*_RETURNED)
        )
        rows = session.execute(stmt).all()
        inserted.update(zip(map(_PLEDGE_OF, rows), rows, strict=True))
    return inserted


def _numbered(session: Session, ids: list[int], numbers: list[str]) -> Any:
    """The (pledge_id, number, position) rows as a table the INSERT reads: two bound arrays on PostgreSQL,
    one JSON array of pairs on SQLite (as ``id_sets.in_list`` binds ids)."""
    if session.get_bind().dialect.name == "postgresql":
        return (
            func.unnest(literal(ids, postgresql.ARRAY(Integer)), literal(numbers, postgresql.ARRAY(String)))
            .table_valued("pledge_id", "number", with_ordinality="position")
            .render_derived()
        )
    pairs = func.json_each(orjson.dumps(list(zip(ids, numbers, strict=True))).decode())
    each = pairs.table_valued("key", "value").alias("numbered")
    return (
        select(
            func.json_extract(each.c.value, "$[0]").label("pledge_id"),
            func.json_extract(each.c.value, "$[1]").label("number"),
            each.c.key.label("position"),
        )
    ).subquery("numbered")


def _facts(session: Session) -> Any:
    """The record's 失信行为 from its pledge's deadline, obligation and number. A pledge is due by 24:00 of
    its deadline day (RULEBOOK), as its registration notice says: "前" alone would read a day early."""
    deadline: Any = type_coerce(_T.c.deadline, String)  # SQLite stores a date as its ISO text
    if session.get_bind().dialect.name == "postgresql":
        deadline = func.to_char(_T.c.deadline, "YYYY-MM-DD")
    return (
        literal("未在承诺期限内履行承诺：承诺于 ") + deadline + literal(" 24时前提交“") + _T.c.obligation
        + literal("”，逾期未履行（承诺编号 ") + _T.c.number + literal("）")
    )  # fmt: skip


def _by_day(days: set[dt.date], value_of: Any) -> Any:
    """A date computed in Python for each decision date of the batch (a handful), chosen per row."""
    return case({day: literal(value_of(day), Date()) for day in days}, value=_T.c.publication_day)


# What the notices read of a pledge's row (_COLUMNS) and of its record's row (_RETURNED).
_MAILED = _positions(_COLUMNS, "id", "number", "pledgor_name", "pledgor_email", "pledgor_phone", "matter")
_NOTED = _positions(_RETURNED, "id", "number", "publication_end", "repair_earliest")


def insert_notices(
    session: Session,
    published: Sequence[tuple[Planned, Any]],
    departments: Mapping[int, tuple[str, str]],
    actor: Actor,
    now: dt.datetime,
) -> None:
    """For each published (plan, record row from ``insert_breaches``): the pledgor's ``pledge_published``
    notice and the credit platform's ``publish`` document (the whole record, unmasked: the platform is
    not the public)."""
    mails, documents = [], []
    for p, row in published:
        # The pledge's and the record's columns by position, in one call each (a row's attributes are
        # looked up by name one by one); the record's mapping for ``public_fields``, read by name.
        pledge_id, pledge_number, name, email, phone, matter = _MAILED(p.pledge)
        breach_id, number, end, earliest = _NOTED(row)
        context = {
            "pledge_number": pledge_number, "pledgor_name": name, "matter": matter,
            "record_number": number, "decision_date": p.day, "publication_end": end.isoformat(),
            "repair_earliest": earliest.isoformat(),
        }  # fmt: skip
        mails.extend(
            outbox_rows(
                template="pledge_published",
                recipient_kind="pledgor",
                recipient_name=name,
                recipient_email=email,
                recipient_phone=phone,
                key=f"pledge:{pledge_id}:publish:pledge_published",
                context=context,
                now=now,
                case_kind="pledge",
                case_id=pledge_id,
                case_number=pledge_number,
                flow_run_id=actor.flow_run_id,
            )  # fmt: skip
        )
        record = public_fields(row._mapping, departments, mask=False)
        documents.append(
            document_row(
                kind=DocumentKind.PUBLISH, breach_id=breach_id, number=number, payload=record, now=now
            )
        )
    # A mail whose key is already queued is skipped, as for the sweep's other mails.
    table = Notification.__table__  # type: ignore[attr-defined]
    insert_rows(session, table, mails, on_conflict_do_nothing=["idempotency_key"])
    enqueue_documents(session=session, rows=documents)

"""What the deciding department reads before it decides: its breach records, and for each the subject's
pending objection or repair request (reason, evidence or the written objection's 文号, repair pledge, the
files handed in with it) with the pledge's evidence files.

The subject's request is stored as the ``object`` / ``request_repair`` event (note = the reason, data =
the evidence or the repair pledge); before this, the staff list answered only the public fields, so
whoever decided could not read what they decided on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.breach_record import department_names, public_fields
from models.errors import NotFound
from models.files import CaseFile, case_files, read_case_file
from models.id_sets import chunks, in_list
from models.lifecycle import BreachState, Role
from models.pledge import PledgeEvidence
from models.workflow import Actor

REQUEST_EVENTS = {"object": "objection", "request_repair": "repair"}
STAFF_LIST_LIMIT = 500
_EVENTS = CaseEvent.__table__  # type: ignore[attr-defined]
_FILES = PledgeEvidence.__table__  # type: ignore[attr-defined]


def visible_breach(*, session: Session, breach_id: int, actor: Actor) -> PublishedBreach:
    """The record, if the actor decides on it: a handler only its own department's pledge records
    (another's is "not found", as for every case), supervisors all. A record from a complaint is the
    credit office's alone, whatever department it names: the office confirmed the breach (confirm_breach
    is the supervisors'), so its supervisors decide its objections and repairs (谁认定、谁修复), and no
    handler reads the department's written objection or its files."""
    record = session.get(PublishedBreach, breach_id)
    if record is None or (
        actor.role == Role.HANDLER
        and (record.complaint_id is not None or actor.department_id != record.department_id)
    ):
        raise NotFound(f"公示记录 #{breach_id} 不存在 (no breach record {breach_id})")
    return record


def list_staff_breaches(
    *, session: Session, actor: Actor, state: BreachState | None = None, limit: int = STAFF_LIST_LIMIT
) -> list[PublishedBreach]:
    """The records the actor decides on, newest first by primary key: the cap then keeps the latest
    records, not whatever pages the database visits first, and no sort over a large register is needed."""
    stmt = select(PublishedBreach)
    if actor.role == Role.HANDLER:
        # As ``visible_breach``: records from complaints are the credit office's.
        stmt = stmt.where(
            PublishedBreach.department_id == actor.department_id, col(PublishedBreach.complaint_id).is_(None)
        )
    if state:
        stmt = stmt.where(PublishedBreach.state == state)
    return list(session.exec(stmt.order_by(col(PublishedBreach.id).desc()).limit(limit)).all())


def _latest_requests(session: Session, ids: Sequence[int]) -> dict[int, CaseEvent]:
    """Each record's latest objection or repair request event (one query per chunk of ids)."""
    latest: dict[int, CaseEvent] = {}
    for part in chunks(list(ids)):
        stmt = select(CaseEvent).where(
            CaseEvent.case_kind == "breach",
            in_list(session, _EVENTS.c.case_id, part),
            col(CaseEvent.event).in_(tuple(REQUEST_EVENTS)),
        )
        for event in session.exec(stmt).all():
            if event.case_id not in latest or event.seq > latest[event.case_id].seq:
                latest[event.case_id] = event
    return latest


def _evidence_files(session: Session, pledge_ids: Sequence[int]) -> dict[int, list[PledgeEvidence]]:
    files: dict[int, list[PledgeEvidence]] = {}
    for part in chunks(list(pledge_ids)):
        stmt = select(PledgeEvidence).where(in_list(session, _FILES.c.pledge_id, part))
        for row in session.exec(stmt.order_by(col(PledgeEvidence.id))).all():
            files.setdefault(row.pledge_id, []).append(row)
    return files


def _request_fields(event: CaseEvent | None, files: Sequence[CaseFile]) -> dict[str, Any]:
    if event is None:
        return {
            "request_kind": None,
            "requested_at": None,
            "request_reason": None,
            "request_evidence": None,
            "request_document_reference": None,
            "request_phone": None,
            "request_files": [],
        }
    return {
        "request_kind": REQUEST_EVENTS[event.event],
        "requested_at": event.at,
        "request_reason": event.note,
        # An objection's evidence (what the subject handed in, as text) or a repair request's pledge.
        "request_evidence": (event.data or {}).get("evidence") or None,
        "repair_pledge": (event.data or {}).get("repair_pledge") or None,
        # The 文号 of a department's written objection, as the credit office filed it: the paper the
        # decision answers (models/government_credit.py).
        "request_document_reference": (event.data or {}).get("document_reference") or None,
        # The mobile the objector or applicant gave for replies: whoever decides may need to call.
        "request_phone": (event.data or {}).get("phone") or None,
        # The files the objector or applicant handed in with this request.
        "request_files": [f for f in files if f.event_seq == event.seq],
    }


def staff_views(*, session: Session, records: Sequence[PublishedBreach]) -> list[dict[str, Any]]:
    """The records as the deciding department sees them: unmasked public fields, version, the stage's
    deadline, the subject's latest request with its files and the pledge's evidence files (four queries
    in all)."""
    ids = [r.id for r in records if r.id is not None]
    requests = _latest_requests(session, ids)
    request_files = case_files(session=session, case_kind="breach", case_ids=list(requests))
    files = _evidence_files(session, [r.pledge_id for r in records if r.pledge_id is not None])
    departments = department_names(session)
    views = []
    for record in records:
        assert record.id is not None
        views.append(
            {
                "id": record.id,
                "version": record.version,
                "stage_deadline": record.stage_deadline,
                "deadline_pending": record.deadline_pending,
                "pledge_id": record.pledge_id,
                "repair_pledge": None,
                **public_fields(record, departments, mask=False),
                **_request_fields(requests.get(record.id), request_files.get(record.id, [])),
                "evidence_files": files.get(record.pledge_id, []) if record.pledge_id else [],
            }
        )
    return views


def read_request_file(
    *, session: Session, breach_id: int, file_id: int, actor: Actor
) -> tuple[CaseFile, bytes]:
    """A file handed in with an objection or repair request on the record, for whoever decides on it (the
    objector or applicant reads no file back: the public pages serve none)."""
    if actor.role not in (Role.HANDLER, Role.SUPERVISOR):
        raise NotFound(f"公示记录 #{breach_id} 不存在 (no breach record {breach_id})")
    visible_breach(session=session, breach_id=breach_id, actor=actor)
    return read_case_file(session=session, case_kind="breach", case_id=breach_id, file_id=file_id)

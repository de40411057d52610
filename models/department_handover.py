"""What a department's retirement hands over (``models.department_retire``): its open complaints (and its
assignments on them), the pledges it can still act on and current breach records move to the successor in
set-based UPDATEs that re-check each case's state, each moved case with a ``department_succeeded`` event on
its chain; and the successor's one mail listing what it inherited."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.breach_record import department_names, platform_document, published_class
from models.clock import Clock
from models.complaint import Complaint, ComplaintAssignment
from models.government_credit_record import GovernmentCreditRecord
from models.hotline import report_stage_change
from models.id_sets import chunks, in_list
from models.lifecycle import COMPLAINT, PLEDGE, Role
from models.org import Department
from models.outbox import enqueue
from models.platform import DocumentKind, enqueue_documents
from models.pledge import Pledge
from models.register.states import SHOWN_STATES
from models.workflow import Actor, Fired, record_events_many

SUCCEEDED_EVENT = "department_succeeded"
MAIL_TEMPLATE = "department_succession"
# The mail lists at most this many numbers per kind and says how many more there are: an authority of
# pledges can hand over tens of thousands, which the successor finds in its own lists.
MAIL_LIST_LIMIT = 50

# The pledges an authority can still act on, read off the lifecycle: the open ones, and the closed ones
# its handler still may (a fulfilled pledge found false, a published pledgor's new access code). Left with a
# retired authority these could be acted on by nobody but the retired department's own accounts.
HANDED_OVER_PLEDGE_STATES = tuple(s for s in PLEDGE.state_names if PLEDGE.available(s, Role.HANDLER))

_C = Complaint.__table__  # type: ignore[attr-defined]
_P = Pledge.__table__  # type: ignore[attr-defined]
_A = ComplaintAssignment.__table__  # type: ignore[attr-defined]
_B = PublishedBreach.__table__  # type: ignore[attr-defined]


def move_complaints(
    session: Session,
    dept: Department,
    successor: Department,
    ids: list[int],
    actor: Actor,
    now: dt.datetime,
    note: str,
    data: dict[str, Any],
) -> list[str]:
    """Move the lead and the assignments of the complaints still open when the UPDATE runs (one closed in
    between keeps its department) and record one event each; returns their numbers."""
    fired: list[Fired] = []
    led: list[int] = []  # the moved complaints the retired department led
    for part in chunks(ids):
        rows = session.execute(
            update(_C)
            .where(in_list(session, _C.c.id, part), _C.c.state.in_(COMPLAINT.open_states()))
            .values(version=_C.c.version + 1, updated_at=now)
            .returning(_C.c.id, _C.c.number, _C.c.state, _C.c.version)
        ).all()
        moved = sorted(r.id for r in rows)
        if not moved:
            continue
        led += session.scalars(
            update(_C)
            .where(in_list(session, _C.c.id, moved), _C.c.lead_department_id == dept.id)
            .values(lead_department_id=successor.id)
            .returning(_C.c.id)
        ).all()
        _move_assignments(session, dept, successor, moved)
        fired += [Fired(r.id, r.number, str(r.state), str(r.state), r.version) for r in rows]
    fired.sort(key=lambda f: f.id)
    seqs = record_events_many(
        session=session, kind="complaint", cases=fired, event=SUCCEEDED_EVENT, actor=actor, now=now,
        note=note, data=data,
    )  # fmt: skip
    _expire(session, Complaint, {f.id for f in fired})
    _tell_hotline(session, sorted(led), seqs)
    return [f.number for f in fired]


def _tell_hotline(session: Session, ids: list[int], seqs: dict[int, int]) -> None:
    """12345 knows an order by the department handling it: a moved lead is told as a dispatch to the
    successor (``models.hotline.STAGES``), for the order and the orders merged into it."""
    for part in chunks(ids):
        cases = session.exec(select(Complaint).where(in_list(session, _C.c.id, part))).all()
        events = session.exec(
            select(CaseEvent).where(
                CaseEvent.case_kind == "complaint",
                CaseEvent.event == SUCCEEDED_EVENT,
                in_list(session, CaseEvent.__table__.c.case_id, part),  # type: ignore[attr-defined]
            )
        ).all()
        current = {e.case_id: e for e in events if seqs.get(e.case_id) == e.seq}
        for case in cases:
            assert case.id is not None
            report_stage_change(session, case, current[case.id])


def _move_assignments(session: Session, dept: Department, successor: Department, ids: list[int]) -> None:
    """The retired department's active assignment becomes the successor's (its own row, reactivated, when it
    had one: one row per complaint and department); the old row stays, inactive, as the trace."""
    rows = session.exec(
        select(ComplaintAssignment).where(
            in_list(session, _A.c.complaint_id, ids),
            col(ComplaintAssignment.department_id).in_([dept.id, successor.id]),
        )
    ).all()
    assert successor.id is not None
    theirs = {r.complaint_id: r for r in rows if r.department_id == successor.id}
    for old in (r for r in rows if r.department_id == dept.id and r.active):
        new = theirs.get(old.complaint_id)
        was_active = new is not None and new.active
        new = new or ComplaintAssignment(complaint_id=old.complaint_id, department_id=successor.id)
        # A successor already assisting a case the retired department led becomes its lead.
        new.lead = old.lead or (was_active and new.lead)
        new.active, old.active = True, False
        session.add_all([old, new])
    session.flush()


def move_pledges(
    session: Session,
    dept: Department,
    successor: Department,
    actor: Actor,
    now: dt.datetime,
    note: str,
    data: dict[str, Any],
) -> list[str]:
    rows = session.execute(
        update(_P)
        .where(_P.c.authority_id == dept.id, _P.c.state.in_(HANDED_OVER_PLEDGE_STATES))
        .values(authority_id=successor.id, version=_P.c.version + 1, updated_at=now)
        .returning(_P.c.id, _P.c.number, _P.c.state, _P.c.version)
    ).all()
    fired = sorted((Fired(r.id, r.number, str(r.state), str(r.state), r.version) for r in rows), key=_id)
    for part in chunks(fired):
        record_events_many(
            session=session, kind="pledge", cases=part, event=SUCCEEDED_EVENT, actor=actor, now=now,
            note=note, data=data,
        )  # fmt: skip
    _expire(session, Pledge, {f.id for f in fired})
    return [f.number for f in fired]


def move_records(
    session: Session,
    dept: Department,
    successor: Department,
    ids: list[int | None],
    actor: Actor,
    now: dt.datetime,
    today: dt.date,
    note: str,
    data: dict[str, Any],
) -> list[str]:
    """The successor becomes the 认定部门 of the records still in a shown state when the UPDATE runs (one
    withdrawn, repaired or expired in between keeps its department), with one event each on the record's
    chain and one correction to the credit platform, which shows the deciding body too; the subject and
    the record's text are not touched. Returns their numbers.

    A finding against the successor itself is not its own to decide: it goes, as a new finding would
    (``models.government_credit``), to the successor's 主管部门 as it stands after the retirement, and to
    the successor only when it has none (the supervisors decide with it, as for any department without)."""
    fired: list[Fired] = []
    wanted = [i for i in ids if i is not None]
    own = set(
        session.exec(
            select(GovernmentCreditRecord.breach_id).where(
                col(GovernmentCreditRecord.breach_id).in_(wanted),
                GovernmentCreditRecord.department_id == successor.id,
            )
        ).all()
    )
    decider = {True: successor.competent_id or successor.id, False: successor.id}
    for is_own in (False, True):
        part_ids = [i for i in wanted if (i in own) == is_own]
        fired += _move_record_part(session, dept, decider[is_own], part_ids, actor, now, note, data)
    _expire(session, PublishedBreach, {f.id for f in fired})
    _correct_on_platform(session, dept, [f.id for f in fired], now, today)
    return [f.number for f in fired]


def _correct_on_platform(
    session: Session, dept: Department, ids: list[int], now: dt.datetime, today: dt.date
) -> None:
    """One CORRECT per moved record, as a decision's correction is sent: the record as it now stands and
    the deciding body before and after, so the platform stops naming the retired department (a record
    the platform never had gets its PUBLISH instead: ``enqueue_documents``)."""
    names = department_names(session)
    before = {"department_code": dept.code, "department_name": dept.name}
    rows = []
    for part in chunks(ids):
        for record in session.exec(select(PublishedBreach).where(in_list(session, _B.c.id, part))).all():
            if not published_class(record.severity):
                continue  # a 轻微 record is not on the platform: moving it must not put it there
            row = platform_document(
                kind=DocumentKind.CORRECT, record=record, departments=names, effective=today, now=now,
                revision=record.version,
            )  # fmt: skip
            code, name = names.get(record.department_id, ("", ""))
            after = {"department_code": code, "department_name": name}
            row["payload"]["record"]["corrections"] = {"before": before, "after": after}
            rows.append(row)
    if rows:
        enqueue_documents(session=session, rows=rows)


def _move_record_part(
    session: Session,
    dept: Department,
    decider: int | None,
    ids: list[int],
    actor: Actor,
    now: dt.datetime,
    note: str,
    data: dict[str, Any],
) -> list[Fired]:
    fired: list[Fired] = []
    for part in chunks(ids):
        rows = session.execute(
            update(_B)
            .where(
                in_list(session, _B.c.id, part), _B.c.department_id == dept.id, _B.c.state.in_(SHOWN_STATES)
            )
            .values(department_id=decider, version=_B.c.version + 1, updated_at=now)
            .returning(_B.c.id, _B.c.number, _B.c.state, _B.c.version)
        ).all()
        moved = sorted((Fired(r.id, r.number, str(r.state), str(r.state), r.version) for r in rows), key=_id)
        record_events_many(
            session=session, kind="breach", cases=moved, event=SUCCEEDED_EVENT, actor=actor, now=now,
            note=note, data=data,
        )  # fmt: skip
        fired += moved
    return fired


def _id(fired: Fired) -> int:
    return fired.id


def _expire(session: Session, model: type[Any], ids: set[int]) -> None:
    """Cases moved by the UPDATEs above that the session already holds are read back as stored."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model) and obj.id in ids:
            session.expire(obj)


def tell_successor(
    session: Session,
    dept: Department,
    successor: Department,
    reason: str,
    now: dt.datetime,
    complaints: list[str],
    pledges: list[str],
    records: list[str],
    departments: list[str],
) -> int:
    # Keyed by the moment: a second run moves nothing and sends nothing; leftovers moved later are told.
    return enqueue(
        session=session,
        template=MAIL_TEMPLATE,
        recipient_kind="department",
        recipient_name=successor.name,
        recipient_email=successor.email,
        key=f"{MAIL_TEMPLATE}:{dept.id}:{successor.id}:{now.isoformat()}",
        context={
            "department_name": successor.name,
            "predecessor_name": dept.name,
            "reason": reason,
            "retired_on": Clock.from_settings().local_date(now).isoformat(),
            "complaint_count": len(complaints),
            "complaint_numbers": complaints[:MAIL_LIST_LIMIT],
            "pledge_count": len(pledges),
            "pledge_numbers": pledges[:MAIL_LIST_LIMIT],
            "record_count": len(records),
            "record_numbers": records[:MAIL_LIST_LIMIT],
            "departments": departments,
        },
    )

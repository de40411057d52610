"""Which department a case belonged to at a past moment, undoing the moves of later retirements.

A retirement (``models.department_retire``) rewrites the department on a retired department's open cases
and leaves a ``department_succeeded`` event on each, naming the department it came "from". A figure for a
past period counts each case for the department it had at the period's end, so the retired department
keeps the work it did and the successor is not credited with it. Only cases moved since that moment are
answered: in the usual case (no retirement since) nothing is, and the query reads no rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.complaint import ComplaintAssignment
from models.department_handover import SUCCEEDED_EVENT
from models.id_sets import chunks, in_list
from models.org import Department

_A = ComplaintAssignment.__table__  # type: ignore[attr-defined]

CaseKind = Literal["complaint", "pledge", "breach"]


def departments_at(*, session: Session, kind: CaseKind, end: dt.datetime) -> dict[int, int]:
    """Case id -> the department the case of ``kind`` belonged to at ``end`` (a UTC instant), for the cases
    a retirement moved at or after ``end``; a case moved twice answers the first move's "from".

    For a complaint the department is its lead (主办): one the retired department only assisted (协办)
    kept its lead through the move and is not answered."""
    moves = session.exec(
        select(CaseEvent.case_id, CaseEvent.data)
        .where(CaseEvent.case_kind == kind, CaseEvent.event == SUCCEEDED_EVENT, col(CaseEvent.at) >= end)
        .order_by(col(CaseEvent.case_id), col(CaseEvent.seq))
    ).all()
    if not moves:
        return {}
    codes = dict(session.exec(select(Department.code, Department.id)).all())
    froms: dict[int, list[int]] = {}  # each case's "from" departments, earliest move first
    for case_id, data in moves:
        dept_id = codes.get(str(data.get("from")))
        if dept_id is not None:
            froms.setdefault(case_id, []).append(dept_id)
    if kind == "complaint":
        return _led(session, froms)
    return {case_id: found[0] for case_id, found in froms.items()}


def _led(session: Session, froms: dict[int, list[int]]) -> dict[int, int]:
    """For each moved complaint, the first "from" department that led it (主办): a move of a department
    that only assisted (协办) left the lead as it was, and a later move may still have taken the lead. The
    retired department's assignment keeps the lead flag it had when the move made it inactive (a retired
    department is never dispatched to again)."""
    leads: dict[int, set[int]] = {}
    for part in chunks(sorted(froms)):
        rows = session.exec(
            select(ComplaintAssignment.complaint_id, ComplaintAssignment.department_id).where(
                in_list(session, _A.c.complaint_id, part),
                col(ComplaintAssignment.lead).is_(True),
            )
        ).all()
        for cid, dept in rows:
            leads.setdefault(cid, set()).add(dept)
    led: dict[int, int] = {}
    for cid, found in froms.items():
        first = next((d for d in found if d in leads.get(cid, set())), None)
        if first is not None:
            led[cid] = first
    return led

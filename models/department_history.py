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
    result: dict[int, int] = {}
    for case_id, data in moves:
        dept_id = codes.get(str(data.get("from")))
        if case_id not in result and dept_id is not None:
            result[case_id] = dept_id
    return _led(session, result) if kind == "complaint" else result


def _led(session: Session, moved: dict[int, int]) -> dict[int, int]:
    """The moved complaints their "from" department led. The retired department's assignment keeps the lead
    flag it had when the move made it inactive (a retired department is never dispatched to again)."""
    led: dict[int, int] = {}
    for part in chunks(sorted(moved)):
        rows = session.exec(
            select(ComplaintAssignment.complaint_id, ComplaintAssignment.department_id).where(
                in_list(session, _A.c.complaint_id, part),
                col(ComplaintAssignment.lead).is_(True),
            )
        ).all()
        led.update((cid, dept) for cid, dept in rows if moved[cid] == dept)
    return led

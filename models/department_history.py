"""Which department a pledge or breach record belonged to at a past moment, undoing the moves of later
retirements (a complaint's lead: models/scorecard_lead.py).

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
from models.department_handover import SUCCEEDED_EVENT
from models.org import Department

# A complaint's lead also changes by 退单 and 改派: models/scorecard_lead.py walks all three moves.
CaseKind = Literal["pledge", "breach"]


def departments_at(*, session: Session, kind: CaseKind, end: dt.datetime) -> dict[int, int]:
    """Case id -> the department the case of ``kind`` belonged to at ``end`` (a UTC instant), for the cases
    a retirement moved at or after ``end``; a case moved twice answers the first move's "from"."""
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
    return {case_id: found[0] for case_id, found in froms.items()}

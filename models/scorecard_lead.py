"""The lead department (主办) a complaint had at a period's end, for the department scorecard.

A complaint's lead changes by three events, each on its audit trail: a dispatch or re-dispatch (派单,
改派: the data names the ``lead``), a return (退单: no lead until the next dispatch) and a retirement's
move (``department_succeeded``: the lead passes "from" the retired department "to" its successor when the
retired department led it). Grouping a past period's cases by the lead they have now let a later 退单 or
改派 (or retirement) take the period's figures from the department that had the case then.

Only the cases of the period whose lead changed at or after its end are answered, all in one query; in
the usual case (every case dispatched in its period and left there) none is.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.complaint import Complaint
from models.department_handover import SUCCEEDED_EVENT
from models.org import Department

LEAD_EVENTS = ("dispatch", "return_order", SUCCEEDED_EVENT)


def leads_at(*, session: Session, cases: Select[Any], end: dt.datetime) -> dict[int, int]:
    """Complaint id -> the lead at ``end`` for the complaints among ``cases`` (a SELECT of their
    ids) whose lead changed at or after ``end`` (a UTC instant), when it differs from the lead now.

    A case without a lead at ``end`` (registered late in the period and dispatched after it, or returned
    and not yet re-dispatched) counts for the first lead it was given after: the department that took it
    on, not nobody, or the case would fall out of every period's scorecard."""
    later = core_select(col(CaseEvent.case_id)).where(
        col(CaseEvent.case_kind) == "complaint",
        col(CaseEvent.event).in_(LEAD_EVENTS),
        col(CaseEvent.at) >= end,
    )
    # Every lead event of those cases, in the order recorded (``seq``), each marked whether it came before
    # ``end``: the whole chain is walked, as a succession only moves a lead the retired department held.
    rows = session.execute(
        core_select(
            col(CaseEvent.case_id),
            col(CaseEvent.event),
            col(CaseEvent.data),
            (col(CaseEvent.at) < end).label("before"),
            col(Complaint.lead_department_id),
        )
        .join(Complaint, col(Complaint.id) == col(CaseEvent.case_id))
        .where(
            col(CaseEvent.case_kind) == "complaint",
            col(CaseEvent.event).in_(LEAD_EVENTS),
            col(CaseEvent.case_id).in_(later),
            col(CaseEvent.case_id).in_(cases),
        )
        .order_by(col(CaseEvent.case_id), col(CaseEvent.seq))
    ).all()
    if not rows:
        return {}
    codes: dict[str, int] = {
        code: dept_id
        for code, dept_id in session.exec(select(Department.code, Department.id)).all()
        if dept_id
    }
    chains: dict[int, list[tuple[str, dict[str, Any], bool]]] = {}
    now: dict[int, int | None] = {}
    for case_id, event, data, before, lead_now in rows:
        chains.setdefault(case_id, []).append((event, data or {}, bool(before)))
        now[case_id] = lead_now
    result: dict[int, int] = {}
    for case_id, chain in chains.items():
        then = _walk(chain, codes)
        # No lead found at all (a case stored without its dispatch): its lead now is all that is known.
        if then is not None and then != now[case_id]:
            result[case_id] = then
    return result


def _walk(chain: list[tuple[str, dict[str, Any], bool]], codes: dict[str, int]) -> int | None:
    """The lead after the last event before the end, or when that is none, the first one given after."""
    lead: int | None = None
    at_end: int | None = None
    after: int | None = None
    for event, data, before in chain:
        if event == "dispatch":
            lead = codes.get(str(data.get("lead")))
        elif event == "return_order":
            lead = None
        elif lead is not None and lead == codes.get(str(data.get("from"))):
            lead = codes.get(str(data.get("to")))
        if before:
            at_end, after = lead, None
        elif after is None:
            after = lead
    return at_end if at_end is not None else after

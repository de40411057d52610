"""12345 follows the deadlines a loaded or corrected holiday notice dates or moves.

models/pending_deadlines.py dates them in bulk (``deadline_resolved``, ``deadline_recomputed``); the
platform keeps its own 工单 clock, so each case it follows gets a ``deadline_set`` message, written as every
other stage is (models/hotline.py ``report_stage_change``) in the same transaction."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select as core_select
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.complaint import Complaint
from models.hotline import HOTLINE_SOURCE, report_stage_change
from models.id_sets import chunks, in_list

_COMPLAINTS: Any = Complaint.__table__  # type: ignore[attr-defined]


def report_deadlines_dated(session: Session, seqs: Mapping[int, int]) -> None:
    """Queue ``deadline_set`` for the complaints ``seqs`` names (case id → the seq of the event that dated
    or moved its deadline) that the platform follows: from 12345, or with an order merged into them (the
    message goes to that order through ``report_stage_change``). Call it once the new deadlines are stored
    and the session's copies expired."""
    c = _COMPLAINTS.c
    followed: set[int] = set()
    for part in chunks(list(seqs)):
        own = core_select(c.id).where(in_list(session, c.id, part), c.source_system == HOTLINE_SOURCE)
        joined = core_select(c.merged_into_id).where(in_list(session, c.merged_into_id, part))
        followed.update(session.execute(own).scalars())
        followed.update(i for i in session.execute(joined).scalars() if i is not None)
    for case_id in sorted(followed):
        case = session.get(Complaint, case_id)
        event = session.exec(
            select(CaseEvent).where(
                CaseEvent.case_kind == "complaint",
                CaseEvent.case_id == case_id,
                CaseEvent.seq == seqs[case_id],
            )
        ).one()
        if case is not None:
            report_stage_change(session, case, event)

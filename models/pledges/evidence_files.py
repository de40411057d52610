"""Reading a pledge's evidence back (staff), and the pledgor's own submission without an account.

Files are stored by ``models.pledges.store_evidence`` through ``models.files`` (under their SHA-256
outside the database); this module finds them again and checks who may see them: a handler only for
their own department's pledges (another department's pledge is "not found", as for complaints), intake
staff, supervisors and admins for all.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.errors import NotFound
from models.files import Upload, load
from models.lifecycle import Role
from models.pledge import Pledge, PledgeEvidence
from models.pledges.access import check_pledgor
from models.pledges.evidence import store_evidence
from models.workflow import Actor

PLEDGOR_ACTOR = Actor(name="承诺人（自行提交）", role=Role.PUBLIC)


def visible_pledge(*, session: Session, pledge_id: int, actor: Actor) -> Pledge:
    pledge = session.get(Pledge, pledge_id)
    hidden = actor.role == Role.HANDLER and pledge is not None and pledge.authority_id != actor.department_id
    if pledge is None or hidden or actor.role in (Role.PUBLIC, Role.SYSTEM):
        raise NotFound(f"承诺 #{pledge_id} 不存在或无权查看 (pledge not found)", id=pledge_id)
    return pledge


def list_evidence(*, session: Session, pledge_id: int, actor: Actor) -> list[PledgeEvidence]:
    visible_pledge(session=session, pledge_id=pledge_id, actor=actor)
    stmt = select(PledgeEvidence).where(PledgeEvidence.pledge_id == pledge_id)
    return list(session.exec(stmt.order_by(col(PledgeEvidence.id))).all())


# The authority's decision on a submission, shown beside its files: the first of these after it.
_DECISIONS = {"confirm": "已确认", "reject_evidence": "已退回", "confirm_false": "认定为虚假"}


def evidence_outcomes(*, session: Session, pledge_id: int) -> dict[int, str]:
    """Evidence id -> what the authority decided on the submission the file came with (a decision covers
    every submission before it still waiting); a file still waiting is absent. Read off the audit events,
    which name the files of each submission."""
    stmt = (
        select(CaseEvent.event, CaseEvent.data)
        .where(CaseEvent.case_kind == "pledge", CaseEvent.case_id == pledge_id)
        .where(col(CaseEvent.event).in_(("submit_evidence", *_DECISIONS)))
        .order_by(col(CaseEvent.seq))
    )
    outcomes: dict[int, str] = {}
    waiting: list[int] = []
    for event, data in session.exec(stmt).all():
        if event == "submit_evidence":
            waiting += data.get("evidence_ids") or [data.get("evidence_id")]
        else:
            outcomes.update((i, _DECISIONS[event]) for i in waiting if i is not None)
            waiting = []
    return outcomes


def read_evidence(
    *, session: Session, pledge_id: int, evidence_id: int, actor: Actor
) -> tuple[PledgeEvidence, bytes]:
    """The evidence row and its bytes; a file whose content no longer matches its hash is not served."""
    visible_pledge(session=session, pledge_id=pledge_id, actor=actor)
    row = session.get(PledgeEvidence, evidence_id)
    if row is None or row.pledge_id != pledge_id:
        raise NotFound(f"承诺 #{pledge_id} 没有编号为 {evidence_id} 的材料 (evidence not found)")
    content = load(sha256=row.sha256, filename=row.filename)
    return row, content


def submit_by_pledgor(
    *,
    session: Session,
    number: str,
    access_code: str,
    uploads: Sequence[Upload],
    today: dt.date,
    calendar: WorkCalendar,
    address: str | None = None,
) -> list[PledgeEvidence]:
    """The pledgor uploads evidence itself (one or several files, one submission), proving who it is by
    the pledge's access code (办理码): the number and the credit code are public. Wrong codes count per
    pledge and per client ``address``."""
    pledge = check_pledgor(session=session, number=number, code=access_code, address=address, now=utcnow())
    assert pledge.id is not None
    return store_evidence(
        session=session,
        pledge_id=pledge.id,
        uploads=uploads,
        actor=PLEDGOR_ACTOR,
        today=today,
        calendar=calendar,
    )

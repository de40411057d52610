"""Retiring a department (机构改革: merged, abolished, renamed) and handing its open work to a successor.

The RULEBOOK counts 新官不理旧账 as a breach: a reorganisation must not orphan a promise. So a retired
department's open work moves to its successor in the same transaction as the retirement: the complaints it
leads or assists that are not finished, the pledges it is the authority of and can still act on (open,
fulfilled ones that may yet be found false, published ones whose pledgor may need a new access code), the
published breach records it decides objections and repairs on (认定部门) while they are still shown or
decidable, and the departments whose 主管部门 it is. Each moved case gets a ``department_succeeded`` audit
event (not a state change), the successor gets one mail listing what it inherited, and the mail still
queued to the retired department (a deadline set, a stage warned) is readdressed to it. Finished cases,
records no longer shown (withdrawn, repaired, expired) and government credit records keep the old
department: history is not rewritten. Staff accounts are listed, never moved. This module decides and
refuses; the moves and the successor's mail are ``models.department_handover``'s.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_
from sqlmodel import Session, SQLModel, col, select

from models.breach import PublishedBreach
from models.clock import Clock
from models.complaint import Complaint, ComplaintAssignment
from models.department_handover import (
    HANDED_OVER_PLEDGE_STATES,
    move_complaints,
    move_pledges,
    move_records,
    tell_successor,
)
from models.errors import Conflict, NotFound, ValidationFailed
from models.lifecycle import BREACH, COMPLAINT, Role
from models.org import Department, User
from models.outbox import NO_EMAIL, Notification, NotificationStatus, leave_queue
from models.pledge import Pledge
from models.register.states import SHOWN_STATES, past_publication
from models.row_holds import hold_rows
from models.workflow import Actor

_P = Pledge.__table__  # type: ignore[attr-defined]
# The context keys a department's mail greets it by.
_GREETED_AS = frozenset({"department_name", "recipient_name"})


# A staff account of the retired department: the administrator moves it (or deactivates it) by hand.
class StaffToMove(SQLModel):
    id: int
    name: str
    role: Role


# What a retirement did; a repeated call answers ``already_retired`` with nothing moved.
class DepartmentRetired(SQLModel):
    code: str
    name: str
    successor_code: str | None
    successor_name: str | None
    already_retired: bool
    complaints: int
    pledges: int
    # Published breach records whose objections and repairs the successor now decides (认定部门).
    records: int
    complaint_numbers: list[str]
    # Departments whose 主管部门 (认定部门) is now the successor.
    departments: list[str]
    staff_to_move: list[StaffToMove]
    notification_id: int | None
    # Mails queued to the retired department and not yet sent, now addressed to the successor.
    notifications_readdressed: int = 0


def retire_by_code(
    *, session: Session, code: str, successor_code: str | None, actor: Actor, now: dt.datetime, reason: str
) -> DepartmentRetired:
    """``retire_department`` for the API, the page and the CLI, which name departments by code."""
    dept = _by_code(session, code)
    if dept is None:
        raise NotFound(f"部门代码 {code} 不存在，请核对部门代码 (unknown department '{code}')", field="code")
    successor_id = None
    if successor_code and successor_code.strip():
        successor = _by_code(session, successor_code)
        if successor is None:
            raise ValidationFailed(
                f"承接部门代码 {successor_code} 不存在，请从部门列表中选择承接部门"
                f" (unknown successor department '{successor_code}')",
                field="successor_code",
            )
        successor_id = successor.id
    assert dept.id is not None
    return retire_department(
        session=session, department_id=dept.id, successor_id=successor_id, actor=actor, now=now, reason=reason
    )


def retire_department(
    *,
    session: Session,
    department_id: int,
    successor_id: int | None,
    actor: Actor,
    now: dt.datetime,
    reason: str,
) -> DepartmentRetired:
    """Mark the department inactive with its successor and move its open work there, in the caller's
    transaction (flushed, not committed). Refused, with nothing changed, for a successor that is the
    department itself, unknown or inactive, for no successor while open work remains (an objection or a
    repair request waiting on its decision counts), for a move that would make 主管部门 point in a circle,
    and for a department already retired into another successor."""
    reason = reason.strip()
    if not reason:
        raise ValidationFailed(
            "请填写撤并原因，如机构改革文件的名称和文号 (a reason is required)", field="reason"
        )
    _lock(session, department_id, successor_id)
    dept = session.get(Department, department_id)
    if dept is None:
        raise NotFound(f"部门 #{department_id} 不存在 (no department {department_id})")
    successor = _successor(session, dept, successor_id)
    already = not dept.active
    if already and dept.successor_id is not None and dept.successor_id != successor_id:
        recorded = session.get(Department, dept.successor_id)
        shown = f"{recorded.code} {recorded.name}" if recorded else f"#{dept.successor_id}"
        raise Conflict(
            f"部门 {dept.code} {dept.name} 已撤并，承接部门为 {shown}，不能再改由其他部门承接；"
            "如需调整，请对承接部门办理撤并 (already retired into another successor)",
            field="successor_code",
        )
    complaint_ids = _open_complaint_ids(session, department_id)
    pledges = _open_pledge_count(session, department_id)
    subordinates = _subordinates(session, department_id)
    today = _today(now)
    records = _current_records(session, department_id, today)
    if successor is None:
        # A record merely shown may stay with a department that has no successor; one whose subject
        # waits on a decision (异议、信用修复) would have nobody to decide it.
        waiting = [r for r in records if BREACH.state(r.state).waiting_on]
        if complaint_ids or pledges or subordinates or waiting:
            raise ValidationFailed(
                f"部门 {dept.code} {dept.name} 尚有未办结投诉 {len(complaint_ids)} 件、仍可办理的告知承诺 "
                f"{pledges} 件、待决定的信用记录异议或修复申请 {len(waiting)} 件、下属部门 "
                f"{len(subordinates)} 个，撤并时必须指定承接部门；请选择一个启用中的部门承接"
                " (open work remains: choose a successor department)",
                field="successor_code",
            )
        return _done(session, dept, None, already=already, retire=not already)
    competent = _competent_moves(session, dept, successor, subordinates)
    dept.active, dept.successor_id = False, successor.id
    for moved_id, new_competent in competent.items():
        moved = session.get(Department, moved_id)
        assert moved is not None
        moved.competent_id = new_competent
        session.add(moved)
    session.add(dept)
    session.flush()
    data = {"from": dept.code, "to": successor.code, "reason": reason}
    note = f"机构改革：{dept.name}已撤并，由{successor.name}承接办理。原因：{reason}"
    numbers = move_complaints(session, dept, successor, complaint_ids, actor, now, note, data)
    pledge_numbers = move_pledges(session, dept, successor, actor, now, note, data)
    record_numbers = move_records(
        session, dept, successor, [r.id for r in records], actor, now, today, note, data
    )
    # The successor's own link (when it was under the retired department) is not something it inherits.
    under = [d for d in subordinates if d.id != successor.id]
    notification_id = None
    if numbers or pledge_numbers or record_numbers or under:
        notification_id = tell_successor(
            session, dept, successor, reason, now, numbers, pledge_numbers, record_numbers,
            [d.name for d in under],
        )  # fmt: skip
    result = _done(session, dept, successor, already=already, retire=False)
    result.complaints, result.pledges = len(numbers), len(pledge_numbers)
    result.records = len(record_numbers)
    result.complaint_numbers, result.departments = numbers, [d.code for d in under]
    result.notification_id = notification_id
    result.notifications_readdressed = _readdress_mail(session, dept, successor, now)
    return result


def _readdress_mail(session: Session, dept: Department, successor: Department, now: dt.datetime) -> int:
    """Readdress the mail still queued to the retired department (pending, a retry waiting included) to
    the successor, greeted by its name: a deadline set or a stage warned before the retirement is now the
    successor's to meet, and the retired department's mailbox may no longer be read. A row is the
    department's by its key (``dept<id>``, which a rename does not change) or by its name and address.
    With no address for the successor the row cannot be sent and says so, as a new one would."""
    assert dept.id is not None
    addressed = or_(
        col(Notification.idempotency_key).like(f"%:dept{dept.id}"),
        and_(col(Notification.recipient_name) == dept.name, col(Notification.recipient_email) == dept.email),
    )
    rows = session.exec(
        select(Notification).where(
            Notification.recipient_kind == "department",
            Notification.status == NotificationStatus.PENDING,
            addressed,
        )
    ).all()
    for row in rows:
        row.recipient_name, row.recipient_email = successor.name, successor.email
        # Due now: a delivery run holding the row (its lease is ``next_attempt_at``) may be sending it to the
        # old address; moving the time ends that lease, so its outcome is not recorded and the row goes
        # again, to the successor (models/delivery_queue.py ``still_claimed``).
        row.next_attempt_at = now
        # The greeting names the recipient from the context (``department_name``, ``recipient_name``).
        row.context = {
            k: successor.name if k in _GREETED_AS and v == dept.name else v for k, v in row.context.items()
        }
        if not successor.email:
            leave_queue(row, NotificationStatus.UNDELIVERABLE)
            row.last_error = NO_EMAIL
        session.add(row)
    session.flush()
    return len(rows)


def _lock(session: Session, *ids: int | None) -> None:
    """Both departments' rows locked, lower id first, and re-read: two retirements at once (of one
    department into two successors, or of two into each other) take turns, and the second one sees what
    the first committed and is refused; a registration or dispatch to either holds a share lock on it
    (``active_department_by_code``), so the open work this one moves includes what it stored."""
    hold_rows(session, Department, ids)


def _by_code(session: Session, code: str) -> Department | None:
    return session.exec(select(Department).where(col(Department.code) == code.strip())).first()


def _successor(session: Session, dept: Department, successor_id: int | None) -> Department | None:
    if successor_id is None:
        return None
    if successor_id == dept.id:
        raise ValidationFailed(
            f"部门 {dept.code} 不能由自己承接；请选择合并后的部门或接手其职责的部门"
            " (a department cannot succeed itself)",
            field="successor_code",
        )
    successor = session.get(Department, successor_id)
    if successor is None:
        raise ValidationFailed(
            f"承接部门 #{successor_id} 不存在，请从部门列表中选择 (unknown successor)", field="successor_code"
        )
    if not successor.active:
        raise ValidationFailed(
            f"承接部门 {successor.code} {successor.name} 已停用或已撤并，不能承接工作；请选择启用中的部门"
            "（它若已撤并，请选择它的承接部门） (the successor is inactive)",
            field="successor_code",
        )
    return successor


def _open_complaint_ids(session: Session, department_id: int) -> list[int]:
    """Unfinished complaints the department leads (主办) or assists (协办)."""
    assisted = select(ComplaintAssignment.complaint_id).where(
        ComplaintAssignment.department_id == department_id, col(ComplaintAssignment.active).is_(True)
    )
    stmt = (
        select(Complaint.id)
        .where(col(Complaint.state).in_(COMPLAINT.open_states()))
        .where(or_(col(Complaint.lead_department_id) == department_id, col(Complaint.id).in_(assisted)))
        .order_by(col(Complaint.id))
    )
    return [i for i in session.exec(stmt).all() if i is not None]


def _open_pledge_count(session: Session, department_id: int) -> int:
    moved = _P.c.state.in_(HANDED_OVER_PLEDGE_STATES)
    stmt = select(func.count()).where(_P.c.authority_id == department_id, moved)
    return int(session.execute(stmt).scalar_one())


def _today(now: dt.datetime) -> dt.date:
    """The office's day of the retirement: SHOUXIN_TODAY when pinned, as for every other date the
    application decides by, else the local date of ``now``."""
    clock = Clock.from_settings()
    return clock.pinned_today or clock.local_date(now)


def _current_records(session: Session, department_id: int, today: dt.date) -> list[PublishedBreach]:
    """The department's breach records still shown or still decidable on ``today``: in a shown state and
    not past their publication period (then they read as expired and nobody decides on them any more)."""
    stmt = (
        select(PublishedBreach)
        .where(PublishedBreach.department_id == department_id, col(PublishedBreach.state).in_(SHOWN_STATES))
        .order_by(col(PublishedBreach.id))
    )
    return [r for r in session.exec(stmt).all() if not past_publication(r, today)]


def _subordinates(session: Session, department_id: int) -> list[Department]:
    """Active departments whose 主管部门 it is; a retired one keeps its link as history."""
    stmt = (
        select(Department)
        .where(col(Department.competent_id) == department_id, col(Department.active).is_(True))
        .order_by(col(Department.code))
    )
    return list(session.exec(stmt).all())


def _competent_moves(
    session: Session, dept: Department, successor: Department, subordinates: Sequence[Department]
) -> dict[int, int | None]:
    """The new 主管部门 id of each department whose link changes: the subordinates go to the successor, and
    a successor that was itself under the retired department takes its place under that one's 主管部门.
    Refused when the result would lead back to the successor (the 主管部门 verifies complaints against the
    departments under it, so a circle would have a department verify itself)."""
    assert successor.id is not None
    moves: dict[int, int | None] = {
        d.id: successor.id for d in subordinates if d.id not in (None, successor.id)
    }
    if successor.competent_id == dept.id:
        moves[successor.id] = dept.competent_id if dept.competent_id != successor.id else None
    # Every department (a few hundred at most): a circle can pass through ones the move does not touch.
    rows = session.execute(select(Department.id, Department.competent_id, Department.code)).all()
    links: dict[Any, int | None] = {i: c for i, c, _ in rows}
    codes = {i: code for i, _, code in rows}
    links.update(moves)
    chain, seen = [successor.code], {successor.id}
    current = links.get(successor.id)
    while current is not None and current not in seen:
        seen.add(current)
        chain.append(codes.get(current, f"#{current}"))
        current = links.get(current)
    if current == successor.id:
        raise ValidationFailed(
            f"由 {successor.code} 承接会使主管部门形成循环（{' → '.join([*chain, successor.code])}）；请先为"
            "其中一个部门改选主管部门，或另选承接部门 (the move would make competent departments a cycle)",
            field="successor_code",
        )
    return moves


def _done(
    session: Session, dept: Department, successor: Department | None, *, already: bool, retire: bool
) -> DepartmentRetired:
    if retire:
        dept.active = False
        session.add(dept)
        session.flush()
    staff = session.exec(
        select(User)
        .where(col(User.department_id) == dept.id, col(User.active).is_(True))
        .order_by(col(User.id))
    ).all()
    return DepartmentRetired(
        code=dept.code,
        name=dept.name,
        successor_code=successor.code if successor else None,
        successor_name=successor.name if successor else None,
        already_retired=already,
        complaints=0,
        pledges=0,
        records=0,
        complaint_numbers=[],
        departments=[],
        staff_to_move=[StaffToMove(id=u.id or 0, name=u.name, role=u.role) for u in staff],
        notification_id=None,
    )

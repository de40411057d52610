"""The one way a case changes state: ``apply_event`` checks the lifecycle table, guards against races
with the case's version, starts the new stage's deadline and appends the hash-chained audit event, all in
the caller's transaction (the caller also queues any outbox rows there, then commits once)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache
from typing import Any, Protocol

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from models.audit import CaseEvent, event_hash, hashed_fields
from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.errors import Conflict
from models.lifecycle import LIFECYCLES, DeadlineRule, Lifecycle, Role, Transition
from models.pledge import Pledge
from models.settings import get_settings

Case = Complaint | Pledge | PublishedBreach

_KIND: dict[type, str] = {Complaint: "complaint", Pledge: "pledge", PublishedBreach: "breach"}


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff user, the public, or a flow (``flow_run_id`` is stamped on its events)."""

    name: str
    role: Role
    id: int | None = None
    department_id: int | None = None
    flow_run_id: str | None = None

    @classmethod
    def system(cls, flow_run_id: str | None = None) -> Actor:
        return cls(name="系统自动", role=Role.SYSTEM, flow_run_id=flow_run_id)


class _Versioned(Protocol):
    id: int | None
    number: str
    state: Any
    version: int
    stage_seq: int
    stage_deadline: dt.date | None


def kind_of(case: Case) -> str:
    return _KIND[type(case)]


def lifecycle_of(case: Case) -> Lifecycle:
    return LIFECYCLES[kind_of(case)]


def rule_days(rule: DeadlineRule, *, override: int | None = None) -> int:
    """Working days for ``rule``: an explicit override, else the locality's setting, else the default."""
    if override is not None:
        return override
    settings = get_settings()
    if rule.key == "rectification":
        return settings.rectification_working_days
    return settings.deadline_overrides.get(rule.key, rule.days)


def event_exists(*, session: Session, idempotency_key: str) -> bool:
    stmt = select(CaseEvent.id).where(CaseEvent.idempotency_key == idempotency_key)
    return session.exec(stmt).first() is not None


def apply_event(
    *,
    session: Session,
    case: Case,
    event: str,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar | None = None,
    note: str | None = None,
    data: dict[str, Any] | None = None,
    expected_version: int | None = None,
    idempotency_key: str | None = None,
    deadline_days: int | None = None,
    now: dt.datetime | None = None,
    keep_stage: bool = False,
) -> CaseEvent | None:
    """Fire ``event`` on ``case`` as ``actor``; returns the audit event, or None when ``idempotency_key``
    shows the event was already applied (a flow re-run is not an error).

    Raises NotPermitted / TransitionNotAllowed from the lifecycle table, and Conflict when
    ``expected_version`` is stale or another transaction changed the case first.

    ``keep_stage`` moves the state without starting a new stage (pausing and resuming a complaint: the
    paused stage keeps its clock, warnings and extension; the caller moves its deadline).
    """
    lifecycle = lifecycle_of(case)
    # The key first: a re-run of an event that already moved the case must be a no-op, not a refusal
    # because the case is no longer in the event's source state.
    if idempotency_key is not None and event_exists(session=session, idempotency_key=idempotency_key):
        return None
    transition = lifecycle.fire(case.state, event, actor.role)
    if expected_version is not None and expected_version != case.version:
        raise Conflict(
            f"案件 {case.number} 已被他人更新（当前版本 {case.version}，提交的版本 {expected_version}），"
            "请刷新后重试 (stale version: reload the case and try again)",
            current_version=case.version,
        )
    from_state = str(case.state)
    to_state = lifecycle.target_of(transition, from_state, getattr(case, "paused_from_state", None))
    moment = now or dt.datetime.now(dt.UTC)
    stage: dict[str, Any] = {}
    if to_state != from_state and not keep_stage:
        stage = _stage_values(
            case=case,
            lifecycle=lifecycle,
            to_state=to_state,
            today=today,
            calendar=calendar,
            deadline_days=deadline_days,
        )
    # The new stage's columns go out in the compare-and-set UPDATE itself: set on the object they were
    # a second UPDATE through the ORM's unit of work at the next flush, which cost more than the first.
    _bump_version(session=session, case=case, to_state=to_state, now=moment, stage=stage)
    return record_event(
        session=session,
        case=case,
        transition=transition,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        at=moment,
        note=note,
        data=data or {},
        idempotency_key=idempotency_key,
    )


@cache
def _version_update(table: type[Case], stage_columns: tuple[str, ...] = ()) -> Any:
    """The compare-and-set UPDATE of ``table``, also setting ``stage_columns`` (bound by their names),
    built once per column set: building and cache-keying a statement cost more than SQLite's run of it
    (docs/benchmarks.md). On the table, not the mapped class: we set the in-memory values ourselves, and
    the ORM's "synchronize" step would only cost time."""
    t = table.__table__  # type: ignore[union-attr]
    return (
        update(t)
        .where(t.c.id == bindparam("case_id"), t.c.version == bindparam("old_version"))
        .values(
            version=bindparam("new_version"),
            state=bindparam("to_state"),
            updated_at=bindparam("moment"),
            **{name: bindparam(f"stage_{name}") for name in stage_columns},
        )
    )


def _bump_version(
    *, session: Session, case: Case, to_state: str, now: dt.datetime, stage: dict[str, Any] | None = None
) -> None:
    """Compare-and-set on ``version``: the loser of a race sees zero rows and gets Conflict. ``stage``:
    further columns to set in the same statement (the new stage's, from ``_stage_values``)."""
    new_version = case.version + 1
    stage = stage or {}
    if session.autoflush:
        session.flush()  # what the ORM statement did first: pending changes go out before the case row's
    result = session.execute(
        _version_update(type(case), tuple(stage)),
        {
            "case_id": case.id,
            "old_version": case.version,
            "new_version": new_version,
            "to_state": to_state,
            "moment": now,
            **{f"stage_{name}": value for name, value in stage.items()},
        },
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(
            f"案件 {case.number} 正在被他人处理，本次操作未生效，请刷新后重试 "
            "(the case was changed by someone else at the same time)"
        )
    set_committed_value(case, "version", new_version)
    set_committed_value(case, "state", to_state)
    set_committed_value(case, "updated_at", now)
    for name, value in stage.items():
        set_committed_value(case, name, value)


def _stage_values(
    *,
    case: Case,
    lifecycle: Lifecycle,
    to_state: str,
    today: dt.date,
    calendar: WorkCalendar | None,
    deadline_days: int | None,
) -> dict[str, Any]:
    """The columns that start the stage of ``to_state`` on ``case`` and their new values: the stage count,
    for a complaint its clock, warnings and extension, and the deadline unless the stage pauses it."""
    spec = lifecycle.state(to_state)
    values: dict[str, Any] = {"stage_seq": case.stage_seq + 1}
    if isinstance(case, Complaint):
        values.update(
            stage_started_on=today,
            warning_level=None,
            escalation_level=0,
            extension_requested_days=None,
            extension_used=False,
        )
    if spec.clock_paused:
        return values  # the paused stage keeps its deadline; resume moves it
    if spec.deadline is None:
        values["stage_deadline"] = None
        return values
    if calendar is None:
        raise ValueError(f"a calendar is needed to start the '{spec.deadline.key}' deadline")
    days = rule_days(spec.deadline, override=deadline_days)
    values["stage_deadline"] = calendar.nth_working_day_after(today, days)
    return values


# The case's last event (the chain's tip), built once with bound parameters.
_LAST_EVENT = (
    select(CaseEvent.seq, CaseEvent.hash)
    .where(col(CaseEvent.case_kind) == bindparam("kind"), col(CaseEvent.case_id) == bindparam("case_id"))
    .order_by(col(CaseEvent.seq).desc())
    .limit(1)
)


_EVENT_TABLE: Any = CaseEvent.__table__  # type: ignore[attr-defined]
_EVENT_COLUMNS = tuple(c.name for c in _EVENT_TABLE.columns if c.name != "id")
_INSERT_EVENT = insert(_EVENT_TABLE)


def record_event(
    *,
    session: Session,
    case: Case,
    transition: Transition | None,
    from_state: str | None,
    to_state: str,
    actor: Actor,
    at: dt.datetime,
    note: str | None,
    data: dict[str, Any],
    idempotency_key: str | None,
    event: str | None = None,
) -> CaseEvent:
    """Append the audit row, chained to the case's previous event by hash."""
    kind = kind_of(case)
    assert case.id is not None, "flush the case before recording its events"
    if session.autoflush:
        session.flush()  # what the ORM query did first
    # On the connection: the ORM's per-statement work for a two-column row cost more than running it.
    last = session.connection().execute(_LAST_EVENT, {"kind": kind, "case_id": case.id}).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, "")
    row = CaseEvent(
        case_kind=kind,
        case_id=case.id,
        case_number=case.number,
        seq=seq,
        event=event or (transition.event if transition else "create"),
        from_state=from_state,
        to_state=to_state,
        actor_id=actor.id,
        actor_name=actor.name,
        actor_role=str(actor.role),
        at=at,
        note=note,
        data=data,
        flow_run_id=actor.flow_run_id,
        idempotency_key=idempotency_key,
        prev_hash=prev_hash,
    )
    row.hash = event_hash(prev_hash, hashed_fields(row))
    session.flush()  # the caller's pending changes go out first, as they did in the one flush before
    # The row goes in through the table: the ORM's unit of work for one INSERT cost several times the
    # statement (docs/benchmarks.md). Callers only read the returned event (its id, seq, hash, run).
    values = {name: getattr(row, name) for name in _EVENT_COLUMNS}
    row.id = session.execute(_INSERT_EVENT, values).inserted_primary_key[0]  # type: ignore[attr-defined]
    return row

"""The one way a case changes state: ``apply_event`` checks the lifecycle table, guards against races
with the case's version, starts the new stage's deadline and appends the hash-chained audit event, all in
the caller's transaction (the caller also queues any outbox rows there, then commits once).

``apply_event_many`` is its twin for a batch of cases (the sweeps, expiry): the same lifecycle check, the
same UPDATE builder and stage columns, and audit rows built by the same ``event_row`` and hash, inserted in
one statement by ``record_events_many`` (which the bulk import also uses for its creation events)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from operator import itemgetter
from typing import Any

from sqlalchemy import ColumnElement, bindparam, insert, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from models.audit import CaseEvent, event_hash, hashed_fields
from models.breach import PublishedBreach
from models.bulk import insert_rows
from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.errors import Conflict
from models.id_sets import chunks, in_list
from models.lifecycle import LIFECYCLES, DeadlineRule, Lifecycle, Role, Transition
from models.pledge import Pledge
from models.settings import DEDICATED_DEADLINE_SETTINGS, get_settings
from models.stage_deadline import NO_PENDING, deadline_values

Case = Complaint | Pledge | PublishedBreach

_KIND: dict[type, str] = {Complaint: "complaint", Pledge: "pledge", PublishedBreach: "breach"}
_MODELS: dict[str, type[Case]] = {kind: model for model, kind in _KIND.items()}


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


def kind_of(case: Case) -> str:
    return _KIND[type(case)]


def lifecycle_of(case: Case) -> Lifecycle:
    return LIFECYCLES[kind_of(case)]


def rule_days(rule: DeadlineRule, *, override: int | None = None) -> int:
    """Working days for ``rule``: an explicit override, else the locality's setting, else the default."""
    if override is not None:
        return override
    settings = get_settings()
    dedicated = DEDICATED_DEADLINE_SETTINGS.get(rule.key)
    if dedicated is not None:
        return int(getattr(settings, dedicated))
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
            model=type(case),
            lifecycle=lifecycle,
            to_state=to_state,
            today=today,
            calendar=calendar,
            deadline_days=deadline_days,
        )
    if session.autoflush:
        session.flush()  # pending changes go out before the case row's
    t = _table(type(case))
    # Compare-and-set on ``version``: the loser of a race sees no row and gets Conflict.
    moved = session.execute(
        _transition_update(
            type(case),
            where=[t.c.id == case.id, t.c.version == case.version],
            to_state=to_state,
            now=moment,
            stage=stage,
        )
    ).first()
    if moved is None:
        raise Conflict(
            f"案件 {case.number} 正在被他人处理，本次操作未生效，请刷新后重试 "
            "(the case was changed by someone else at the same time)"
        )
    # The new values are the stored ones, so the ORM has nothing left to write at the next flush.
    set_committed_value(case, "version", moved.version)
    # As the state enum the ORM loads (the lifecycle table names states as text): the answers built from
    # the case serialise it without a type warning.
    state_type = type(case.state) if isinstance(case.state, StrEnum) else str
    set_committed_value(case, "state", state_type(to_state))
    set_committed_value(case, "updated_at", moment)
    for name in stage:
        set_committed_value(case, name, moved._mapping[name])
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


@dataclass(frozen=True)
class Fired:
    """One case an event was applied to (or, for a creation, recorded on): what its audit event needs."""

    id: int
    number: str
    from_state: str | None
    to_state: str
    # The case's version after the change; 0 where nobody needs it.
    version: int = field(default=0, compare=False)


def apply_event_many(
    *,
    session: Session,
    kind: str,
    ids: Sequence[int],
    event: str,
    actor: Actor,
    now: dt.datetime,
    today: dt.date | None = None,
    calendar: WorkCalendar | None = None,
    where: Iterable[ColumnElement[bool]] = (),
    note: Callable[[Fired], str | None] | str | None = None,
    data: Callable[[Fired], dict[str, Any]] | dict[str, Any] | None = None,
    idempotency_key: Callable[[int], str] | None = None,
    deadline_days: int | None = None,
    record: bool = True,
) -> list[Fired]:
    """``apply_event`` for a batch of cases of one ``kind``: the lifecycle table checked for ``actor`` from
    every source state of ``event``, one compare-and-set UPDATE per source state and chunk of ids (the
    state is the guard, so a case another transaction moved first is skipped, not an error), and the
    audit events through ``record_events_many`` (unless ``record`` is False: the caller records them
    once it knows their data). Returns the cases actually moved, by source state and then id.

    ``where``: further conditions on the case rows; ``idempotency_key``: the key of a case's event, and
    a case whose key is already recorded is skipped (a flow re-run). On PostgreSQL the rows are locked in
    id order, waiting for a concurrent transaction that holds one, as ``apply_event`` waits (``_locked``)."""
    lifecycle = LIFECYCLES[kind]
    model = _MODELS[kind]
    t = _table(model)
    transition = lifecycle.transition(event)
    todo = list(ids)
    keys: dict[int, str] = {}
    if idempotency_key is not None:
        keys = {i: idempotency_key(i) for i in todo}
        done = existing_keys(session=session, keys=list(keys.values()))
        todo = [i for i in todo if keys[i] not in done]
    conditions = list(where)
    moved: list[Fired] = []
    for source in sorted(transition.sources):
        lifecycle.fire(source, event, actor.role)
        # (A resume's target is each paused case's own earlier state: apply_event, case by case.)
        to_state = lifecycle.target_of(transition, source, None)
        stage: dict[str, Any] = {}
        if to_state != source:
            stage = _stage_values(model=model, lifecycle=lifecycle, to_state=to_state, today=today,
                                  calendar=calendar, deadline_days=deadline_days)  # fmt: skip
        for part in chunks(todo):
            where_source = [t.c.state == source, *conditions]
            stmt = _transition_update(model, where=[_locked(session, t, part, where_source), *where_source],
                                      to_state=to_state, now=now, stage=stage)  # fmt: skip
            rows = session.execute(stmt).all()
            fired = (
                Fired(case_id, number, source, to_state, version)
                for case_id, number, version in map(_MOVED, rows)
            )
            moved += sorted(fired, key=_by_id)
    if record:
        record_events_many(session=session, kind=kind, cases=moved, event=event, actor=actor, now=now,
                           note=note, data=data, idempotency_key=keys.get if keys else None)  # fmt: skip
    return moved


def _by_id(fired: Fired) -> int:
    return fired.id


def _locked(
    session: Session, t: Any, ids: list[int], where: list[ColumnElement[bool]]
) -> ColumnElement[bool]:
    """``id IN ids``; on PostgreSQL the rows still matching ``where``, locked first in id order (a ``FOR NO
    KEY UPDATE`` subquery, so the lock and the UPDATE are one statement, one round trip). SQLite
    serialises writers, and the compare-and-set UPDATE is the guard.

    A row another transaction holds is waited for, not skipped: a due pledge someone is editing at the
    sweep's moment is still published that night (skipped, it waited for the next day's sweep). Locking
    in id order keeps two sweeps over the same rows from deadlocking; the one that waited finds them
    moved (the compare-and-set). ``NO KEY``: the UPDATE changes no key, so a foreign-key check on the row
    (evidence being filed for the pledge) does not hold it up."""
    if session.get_bind().dialect.name != "postgresql":
        return in_list(session, t.c.id, ids)
    rows = select(t.c.id).where(in_list(session, t.c.id, ids), *where).order_by(t.c.id)
    condition: ColumnElement[bool] = t.c.id.in_(rows.with_for_update(key_share=True))
    return condition


def _table(model: type[Case]) -> Any:
    return model.__table__  # type: ignore[union-attr]


# What apply_event_many reads of each row _transition_update returns: id, number, version (its first
# columns), by position in one call (a row's attributes are looked up by name one by one).
_MOVED = itemgetter(0, 1, 2)


def _transition_update(
    model: type[Case],
    *,
    where: Sequence[ColumnElement[bool]],
    to_state: str,
    now: dt.datetime,
    stage: Mapping[str, Any],
) -> Any:
    """The one UPDATE that moves cases: the version bumped, the new state, ``updated_at`` and the new
    stage's columns (``_stage_values``), for the rows matching ``where`` (the compare-and-set), returning
    what the callers read back. On the table, not the mapped class: the callers set any in-memory values
    themselves, and the ORM's "synchronize" step would only cost time."""
    t = _table(model)
    return (
        update(t)
        .where(*where)
        .values(version=t.c.version + 1, state=to_state, updated_at=now, **stage)
        .returning(t.c.id, t.c.number, t.c.version, *(t.c[name] for name in stage))
    )


def _stage_values(
    *,
    model: type[Case],
    lifecycle: Lifecycle,
    to_state: str,
    today: dt.date | None,
    calendar: WorkCalendar | None,
    deadline_days: int | None,
) -> dict[str, Any]:
    """The columns that start the stage of ``to_state`` and their new values (the stage count as an SQL
    expression, so one statement serves many cases): for a complaint its clock, warnings and extension,
    and the deadline unless the stage pauses it: its date, or pending while the calendar does not cover
    it (models/stage_deadline.py)."""
    spec = lifecycle.state(to_state)
    values: dict[str, Any] = {"stage_seq": _table(model).c.stage_seq + 1}
    if model is Complaint:
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
        return {**values, "stage_deadline": None, **NO_PENDING}
    if calendar is None or today is None:
        raise ValueError(f"a calendar and a day are needed to start the '{spec.deadline.key}' deadline")
    days = rule_days(spec.deadline, override=deadline_days)
    # In a year whose notice is not loaded yet the stage still starts, its deadline pending (待日历确定).
    return {**values, **deadline_values(calendar, start=today, days=days)}


# The case's last event (the chain's tip), built once with bound parameters.
_LAST_EVENT = (
    select(CaseEvent.seq, CaseEvent.hash)
    .where(col(CaseEvent.case_kind) == bindparam("kind"), col(CaseEvent.case_id) == bindparam("case_id"))
    .order_by(col(CaseEvent.seq).desc())
    .limit(1)
)


_EVENT_TABLE: Any = CaseEvent.__table__  # type: ignore[attr-defined]
_INSERT_EVENT = insert(_EVENT_TABLE)


def event_row(
    *,
    kind: str,
    case_id: int,
    case_number: str,
    seq: int,
    prev_hash: str,
    event: str,
    from_state: str | None,
    to_state: str,
    actor: Actor,
    at: dt.datetime,
    note: str | None,
    data: dict[str, Any],
    idempotency_key: str | None,
) -> dict[str, Any]:
    """The column values of one audit event, chained to ``prev_hash`` by ``event_hash``: what both
    ``record_event`` and ``record_events_many`` insert."""
    row = {
        "case_kind": kind,
        "case_id": case_id,
        "case_number": case_number,
        "seq": seq,
        "event": event,
        "from_state": from_state,
        "to_state": to_state,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "actor_role": str(actor.role),
        "at": at,
        "note": note,
        "data": data,
        "flow_run_id": actor.flow_run_id,
        "idempotency_key": idempotency_key,
        "prev_hash": prev_hash,
    }
    row["hash"] = event_hash(prev_hash, hashed_fields(row))
    return row


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
    row = event_row(
        kind=kind, case_id=case.id, case_number=case.number, seq=seq, prev_hash=prev_hash,
        event=event or (transition.event if transition else "create"), from_state=from_state,
        to_state=to_state, actor=actor, at=at, note=note, data=data, idempotency_key=idempotency_key,
    )  # fmt: skip
    session.flush()  # the caller's pending changes go out first, as they did in the one flush before
    # The row goes in through the table: the ORM's unit of work for one INSERT cost several times the
    # statement (docs/benchmarks.md). Callers only read the returned event (its id, seq, hash, run).
    new_id = session.execute(_INSERT_EVENT, row).inserted_primary_key[0]  # type: ignore[attr-defined]
    return CaseEvent(id=new_id, **row)


def record_events_many(
    *,
    session: Session,
    kind: str,
    cases: Sequence[Fired],
    event: str,
    actor: Actor,
    now: dt.datetime,
    note: Callable[[Fired], str | None] | str | None = None,
    data: Callable[[Fired], dict[str, Any]] | dict[str, Any] | None = None,
    idempotency_key: Callable[[int], str | None] | None = None,
    last: Mapping[int, tuple[int, str]] | None = None,
) -> dict[int, int]:
    """``record_event`` for a batch: one audit event per case of ``cases`` (a creation has
    ``from_state`` None), each continuing its case's chain, in one bulk insert. Returns each case's new
    event seq.

    ``note`` and ``data`` are one value for all or a function of the case. ``last`` is each case's last
    (seq, hash) when the caller read it already (``last_events``); a case that gained an event since then
    makes the insert fail on the unique (kind, case, seq), never a fork."""
    if not cases:
        return {}
    if last is None:
        last = last_events(session=session, kind=kind, ids=[f.id for f in cases])
    rows = []
    for f in cases:
        seq, prev_hash = last.get(f.id, (0, ""))
        rows.append(event_row(
            kind=kind, case_id=f.id, case_number=f.number, seq=seq + 1, prev_hash=prev_hash, event=event,
            from_state=f.from_state or None, to_state=f.to_state, actor=actor, at=now,
            note=note(f) if callable(note) else note,
            data=data(f) if callable(data) else (data or {}),
            idempotency_key=idempotency_key(f.id) if idempotency_key else None,
        ))  # fmt: skip
    insert_rows(session, _EVENT_TABLE, rows)
    return {row["case_id"]: row["seq"] for row in rows}


def last_events(*, session: Session, kind: str, ids: Sequence[int]) -> dict[int, tuple[int, str]]:
    """Each case's last event as (seq, hash); cases without events are absent."""
    e = _EVENT_TABLE.c
    last: dict[int, tuple[int, str]] = {}
    for part in chunks(ids):
        # Every event of these cases in (case, seq) order, the last one kept: a range scan of the unique
        # (kind, case, seq) index on both databases. A GROUP BY max(seq) join made PostgreSQL hash-join
        # all 2 million events (30 s a batch over a million pledges).
        stmt = (
            select(e.case_id, e.seq, e.hash)
            .where(e.case_kind == kind, in_list(session, e.case_id, part))
            .order_by(e.case_id, e.seq)
        )
        # fetchall: iterating the result fetches row by row, a driver call per row.
        last.update({case_id: (seq, digest) for case_id, seq, digest in session.execute(stmt).all()})
    return last


def existing_keys(*, session: Session, keys: Sequence[str]) -> set[str]:
    """The idempotency keys among ``keys`` that some event already carries."""
    column = _EVENT_TABLE.c.idempotency_key
    found: set[str] = set()
    for part in chunks(keys):
        found.update(session.execute(select(column).where(in_list(session, column, part))).scalars().all())
    return found

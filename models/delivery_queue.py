"""What the outboxes towards other systems share: when a failed delivery is tried again, which rows are
due in the order they were written, and how a run claims them.

Three outboxes use them: the notifications (notifications/outbox_service.py), the 12345 hotline's result
messages (models/hotline.py) and the credit platform's documents (models/platform.py). Each keeps its own
table, states and cap; the rules below are the same for all and live only here. The two ordered ones (12345
and the platform) also share how an admin settles a dead row by hand (``settle_by_hand``): when the other
system refuses a row for good, its content is passed on another way, and the rows after it must not wait
for ever.

Claiming leases rows by pushing ``next_attempt_at`` forward in the claiming transaction: a row lock (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL) ends with that transaction, and the lease is what keeps a second run
off a row while the first is still talking to the other system. An ordered outbox's claims are taken one
at a time (a transaction-level advisory lock per table): SKIP LOCKED would let a second run pass over a
row the first has leased but not yet committed, and take the next row of the same parent. A run that
dies mid-batch leaves its rows to come due again when the lease runs out. The lease's end is also the
claim's token: a run records an outcome only on a row still in the state and lease it claimed
(``still_claimed``), so a run that outlived its lease cannot overwrite what a later run recorded.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from models.errors import Conflict, ValidationFailed

FIRST_BACKOFF = dt.timedelta(minutes=1)
# Doubling past this many steps changes nothing under any cap used here (2**30 minutes is ~2,000 years),
# and keeps a huge attempt count from overflowing timedelta before the cap applies.
_MAX_DOUBLINGS = 30
# The shortest lease; a batch gets longer if its worst case (every row waiting out every timeout) is
# longer, so a slow receiver's batch is never claimed again while it is being sent.
MIN_LEASE = dt.timedelta(minutes=10)
# Time a batch spends besides waiting on the other system (sessions, commits, rendering).
_LEASE_MARGIN_SECONDS = 60
# The default timeout of one HTTP request (seconds), and how many times one request can wait it out:
# connecting, then the answer.
HTTP_TIMEOUT_SECONDS = 10.0
_HTTP_WAITS_PER_REQUEST = 2


def doubling_backoff(
    attempts: int, *, cap: dt.timedelta, first: dt.timedelta = FIRST_BACKOFF
) -> dt.timedelta:
    """The wait after the ``attempts``-th failure: ``first``, twice that, four times … at most ``cap``."""
    return min(first * (1 << min(max(attempts - 1, 0), _MAX_DOUBLINGS)), cap)


def lease_for(count: int, *, seconds_per_row: float) -> dt.timedelta:
    """How long ``count`` claimed rows stay leased when one row may take ``seconds_per_row`` at worst."""
    worst = dt.timedelta(seconds=count * seconds_per_row + _LEASE_MARGIN_SECONDS)
    return max(MIN_LEASE, worst)


def http_lease(count: int, *, timeout: float = HTTP_TIMEOUT_SECONDS) -> dt.timedelta:
    """The lease of ``count`` rows each posted once over HTTP with ``timeout`` (seconds)."""
    return lease_for(count, seconds_per_row=timeout * _HTTP_WAITS_PER_REQUEST)


def due_in_order(
    model: Any,
    parent: str,
    *,
    now: dt.datetime,
    statuses: Collection[str],
    waiting_status: str,
    blocking_status: str,
) -> ColumnElement[bool]:
    """The condition for rows of ``model`` (a table with ``id``, ``status``, ``next_attempt_at``) due at
    ``now`` in one of ``statuses``, each only while no earlier row (lower id) of the same ``parent`` is
    still ``waiting_status`` and not yet due, or ``blocking_status`` (dead): a parent's rows go in the
    order written, so a later one never overtakes an earlier one waiting for its back-off, leased to
    another run, or waiting for an admin to retry it."""
    earlier = aliased(model)
    backing_off = and_(earlier.status == waiting_status, earlier.next_attempt_at > now)
    holding = or_(backing_off, earlier.status == blocking_status)
    waiting = exists().where(
        getattr(earlier, parent) == getattr(model, parent), earlier.id < model.id, holding
    )
    return and_(model.status.in_(statuses), model.next_attempt_at <= now, ~waiting)


@dataclass(frozen=True)
class Claim:
    """The rows a run won: id → the status it claimed each in, in the order claimed, all leased until
    ``until`` (each row's ``next_attempt_at`` while the lease holds)."""

    until: dt.datetime
    statuses: dict[int, Any]


def claim(
    session: Session,
    model: Any,
    *,
    now: dt.datetime,
    statuses: Collection[str],
    limit: int,
    lease: Callable[[int], dt.timedelta],
    order_by: Sequence[Any],
    where: Sequence[ColumnElement[bool]] = (),
) -> Claim:
    """Lease up to ``limit`` rows of ``model`` in one of ``statuses`` due at ``now`` (and matching
    ``where``), in ``order_by`` order, to the caller for ``lease(count)``.

    The lease is a compare-and-set (only rows still due get it), so two runs never both win a row even on
    SQLite, whose driver runs the SELECT outside the writing transaction. The caller commits the claim
    before it starts sending.

    A ``where`` may look at other rows of the table (``due_in_order`` does: a row is due only while no
    earlier row of its parent waits), and to this claim's snapshot a row another run has leased but not
    yet committed still looks due, not waiting. So on PostgreSQL a claim with a ``where`` first waits for
    any other such claim on the table to commit (``_serialise_claims``); a claim without one (the
    notifications) only skips the locked rows. SQLite has one writer at a time already.
    """
    due = (model.status.in_(statuses), model.next_attempt_at <= now)
    query = select(model.id).where(*due, *where).order_by(*order_by).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        if where:
            _serialise_claims(session, model)
        query = query.with_for_update(skip_locked=True)
    candidates = list(session.scalars(query))
    if not candidates:
        return Claim(until=now, statuses={})
    until = now + lease(len(candidates))
    leased = session.execute(
        update(model.__table__)
        .where(model.id.in_(candidates), *due)
        .values(next_attempt_at=until)
        .returning(model.id, model.status)
    )
    won: dict[int, Any] = dict(leased.tuples().all())
    return Claim(until=until, statuses={i: won[i] for i in candidates if i in won})


def _serialise_claims(session: Session, model: Any) -> None:
    """Wait for the other open claims on ``model``'s table, and hold them off until this transaction ends.

    Taken before the claim's SELECT, so that under READ COMMITTED the SELECT's snapshot already shows the
    leases the earlier claim committed. The key is fixed per table (crc32, not ``hash``, which differs
    between processes)."""
    key = zlib.crc32(f"shouxin.claim.{model.__tablename__}".encode())
    session.execute(select(func.pg_advisory_xact_lock(key)))


def claim_in_order(
    session: Session,
    model: Any,
    parent: str,
    *,
    now: dt.datetime,
    statuses: Collection[str],
    waiting_status: str,
    blocking_status: str,
    limit: int,
    timeout: float,
) -> Claim:
    """``claim`` for an outbox posted over HTTP whose rows of one ``parent`` go in the order written
    (``due_in_order``): the 12345 messages of a case, the platform documents of a record."""
    return claim(
        session,
        model,
        now=now,
        statuses=statuses,
        limit=limit,
        lease=lambda count: http_lease(count, timeout=timeout),
        order_by=(model.id,),
        where=(
            due_in_order(
                model,
                parent,
                now=now,
                statuses=statuses,
                waiting_status=waiting_status,
                blocking_status=blocking_status,
            ),
        ),
    )


def still_claimed(
    model: Any, row_id: int, *, status: str, leased_until: dt.datetime
) -> tuple[ColumnElement[bool], ...]:
    """The condition for an outcome to be recorded on row ``row_id``: still in the ``status`` it was
    claimed in, under the lease that ended at ``leased_until``. A later claim moves the lease further
    (it can only claim once this one ran out), and every outcome changes the status or the lease, so a
    row that fails this was since claimed again or already settled: it is left as it is."""
    return (model.id == row_id, model.status == status, model.next_attempt_at == leased_until)


# The longest explanation an admin may give for settling a dead row by hand.
HANDLED_NOTE_MAX = 500
_HANDLED_NOTE_MIN = 4


def handled_note(note: str) -> str:
    """The admin's account of how a dead row's content reached the other system outside Shouxin (entered
    there by hand, sent on paper …), whitespace folded: required, so the trail says why it was never
    delivered."""
    text = " ".join(note.split())
    if len(text) < _HANDLED_NOTE_MIN:
        raise ValidationFailed(
            f"请写明该条内容已如何在系统外送达（至少 {_HANDLED_NOTE_MIN} 个字），"
            "例如“已于 12 月 7 日在对方系统中手工录入” (say how it was delivered outside Shouxin)",
            field="note",
        )
    if len(text) > HANDLED_NOTE_MAX:
        raise ValidationFailed(
            f"处理说明最多 {HANDLED_NOTE_MAX} 个字，当前 {len(text)} 个字 (the note is too long)",
            field="note",
        )
    return text


def settle_by_hand(
    session: Session,
    row: Any,
    *,
    dead: str,
    handled: str,
    note: str,
    by: str,
    now: dt.datetime,
    what: str,
    state_label: Callable[[Any], str],
) -> None:
    """``row`` (an outbox row), if still ``dead``, becomes ``handled`` with the admin's ``note`` (see
    ``handled_note``), name and time: it is never sent, and the rows after it of the same parent go on
    (``due_in_order`` holds back only behind a dead or waiting row). A compare-and-set, like a claim: a row
    someone retried meanwhile (and a run may be sending) is left as it is, and ``Conflict`` names ``what``
    it is and its state now (``state_label``). ``row`` is refreshed either way."""
    model = type(row)
    settled = session.execute(
        update(model.__table__)
        .where(model.id == row.id, model.status == dead)
        .values(status=handled, handled_note=handled_note(note), handled_by=by[:64], handled_at=now)
        .returning(model.id)
    ).first()
    session.refresh(row)
    if settled is None:
        raise Conflict(
            f"只能将{what}标记为已人工处理；其当前状态为 {state_label(row.status)}"
            f" (only a dead row can be settled by hand; this one is {row.status.value})",
            status=row.status.value,
        )

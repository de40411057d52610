"""What the outboxes towards other systems share: when a failed delivery is tried again, and which rows
are due in the order they were written.

Three outboxes use them: the notifications (notifications/outbox_service.py), the 12345 hotline's result
messages (models/hotline.py) and the credit platform's documents (models/platform.py). Each keeps its own
table, states and cap; the rules below are the same for all and live only here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, and_, exists
from sqlalchemy.orm import aliased

FIRST_BACKOFF = dt.timedelta(minutes=1)
# Doubling past this many steps changes nothing under any cap used here (2**30 minutes is ~2,000 years),
# and keeps a huge attempt count from overflowing timedelta before the cap applies.
_MAX_DOUBLINGS = 30


def doubling_backoff(
    attempts: int, *, cap: dt.timedelta, first: dt.timedelta = FIRST_BACKOFF
) -> dt.timedelta:
    """The wait after the ``attempts``-th failure: ``first``, twice that, four times … at most ``cap``."""
    return min(first * (1 << min(max(attempts - 1, 0), _MAX_DOUBLINGS)), cap)


def due_in_order(
    model: Any, parent: str, *, now: dt.datetime, statuses: Collection[str], waiting_status: str
) -> ColumnElement[bool]:
    """The condition for rows of ``model`` (a table with ``id``, ``status``, ``next_attempt_at``) due at
    ``now`` in one of ``statuses``, each only while no earlier row (lower id) of the same ``parent`` is
    still ``waiting_status`` and not yet due: a parent's rows go in the order written, so a later one
    never overtakes an earlier one waiting for its back-off or leased to another run."""
    earlier = aliased(model)
    waiting = exists().where(
        getattr(earlier, parent) == getattr(model, parent),
        earlier.id < model.id,
        earlier.status == waiting_status,
        earlier.next_attempt_at > now,
    )
    return and_(model.status.in_(statuses), model.next_attempt_at <= now, ~waiting)

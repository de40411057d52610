"""Supervise complaint deadlines: yellow/red warnings, then 催办 → 督办 → 提级.

Runs every 15 minutes (Asia/Shanghai). Each step is an audit event keyed by case, stage and step, so a
second or concurrent run adds nothing, and a run after an outage catches up on every step still due. On a
non-working day nothing new is due. The flow queries ids and hands them to one task per batch; each task
opens its own session and calls ``models.complaints.supervise_batch`` with the system actor. Register
records under objection or repair are chased the same way, by their own task per batch
(``models.breach_supervision.supervise_breaches``), and so are pledges whose evidence awaits the
authority's review (``models.pledges.review.supervise_reviews``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from prefect import flow, get_run_logger, task

from flows._runtime import Batches, batched, current_run_id, last_event_id, publish_changes
from models import breach_supervision
from models.calendar import load_calendar
from models.clock import Clock
from models.complaints import supervise_batch, supervision_ids
from models.db import session_scope
from models.pledges import review as pledge_review
from models.settings import get_settings
from models.workflow import Actor

SCHEDULE = {"cron": "*/15 * * * *", "timezone": "Asia/Shanghai"}


def _in_session(
    supervise: Callable[..., int], ids: list[int], today: dt.date, flow_run_id: str | None
) -> int:
    """Run one batch service in its own session (committed when it closes) as this run's system actor."""
    with session_scope() as session:
        calendar = load_calendar(session=session)
        return supervise(
            session=session, ids=ids, actor=Actor.system(flow_run_id), today=today, calendar=calendar
        )


@task(name="supervise-deadlines-batch")
def supervise_ids(ids: list[int], today: dt.date, flow_run_id: str | None) -> int:
    """Apply the due steps to one batch of complaints; returns how many steps were applied."""
    return _in_session(supervise_batch, ids, today, flow_run_id)


@task(name="supervise-breach-deadlines-batch")
def supervise_breach_ids(ids: list[int], today: dt.date, flow_run_id: str | None) -> int:
    """Warn and chase one batch of register records under objection or repair; returns the steps applied."""
    return _in_session(breach_supervision.supervise_breaches, ids, today, flow_run_id)


@task(name="supervise-evidence-reviews-batch")
def supervise_review_ids(ids: list[int], today: dt.date, flow_run_id: str | None) -> int:
    """Warn and chase one batch of pledges whose evidence awaits the authority's review."""
    return _in_session(pledge_review.supervise_reviews, ids, today, flow_run_id)


@flow(name="supervise_deadlines")
def supervise_deadlines(as_of: dt.date | None = None) -> int:
    """Warn and chase every open complaint stage and register decision against its deadline; returns the
    steps applied."""
    today = as_of or Clock.from_settings().today()
    with session_scope() as session:
        ids = supervision_ids(session=session)
        breach_ids = breach_supervision.supervision_ids(session=session)
        review_ids = pledge_review.supervision_ids(session=session)
    run_id = current_run_id()
    first_event = last_event_id()
    size = get_settings().batch_size
    batches = Batches("时限督办")
    for task_, kind_ids, label in (
        (supervise_ids, ids, "投诉"),
        (supervise_breach_ids, breach_ids, "公示记录"),
        (supervise_review_ids, review_ids, "材料核查"),
    ):
        for batch in batched(kind_ids, size):
            batches.add(task_(batch, today, run_id, return_state=True), f"{label}（{batch[0]}–{batch[-1]}）")
    get_run_logger().info("时限督办 %s：%s 项", today, batches.done)
    publish_changes(
        key="supervise-deadlines", title=f"时限督办 {today}", after_id=first_event, flow_run_id=run_id
    )
    batches.check()
    return batches.done

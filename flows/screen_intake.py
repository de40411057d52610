"""Screen new complaints: suggest possible duplicates and the department to dispatch to.

Runs every 5 minutes. It only records suggestions (an audit ``suggest`` event and ``complaint.suggestions``)
for intake staff to confirm; it never merges or dispatches by itself, because a wrong automatic move would
send a complaint to the wrong body. The flow queries ids and hands them to one task per batch; each task
opens its own session and calls ``models.complaints.screen_batch`` with the system actor.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task

from flows._runtime import Batches, batched, current_run_id
from models.clock import Clock
from models.complaints import screen_batch, unscreened_ids
from models.db import session_scope
from models.settings import get_settings
from models.workflow import Actor

SCHEDULE = {"cron": "*/5 * * * *", "timezone": "Asia/Shanghai"}


@task(name="screen-intake-batch")
def screen_ids(ids: list[int], today: dt.date, flow_run_id: str | None) -> int:
    """Screen one batch of complaints; returns how many were screened."""
    with session_scope() as session:
        return screen_batch(session=session, ids=ids, actor=Actor.system(flow_run_id), today=today)


@flow(name="screen_intake")
def screen_intake(as_of: dt.date | None = None) -> int:
    """Screen every unscreened complaint still awaiting review or dispatch; returns how many."""
    today = as_of or Clock.from_settings().today()
    with session_scope() as session:
        ids = unscreened_ids(session=session)
    run_id = current_run_id()
    batches = Batches("投诉研判")
    for batch in batched(ids, get_settings().batch_size):
        batches.add(screen_ids(batch, today, run_id, return_state=True), f"{batch[0]}–{batch[-1]}")
    get_run_logger().info("投诉研判 %s：%s 件", today, batches.done)
    batches.check()
    return batches.done

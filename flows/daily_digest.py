"""Daily digest for supervisors at 08:30 Asia/Shanghai, sent on Chinese working days only.

The cron fires every day; the flow itself asks the working-day calendar, so make-up Saturdays get a
digest and holiday weekdays do not.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task

from flows._runtime import current_run_id
from models.calendar import load_calendar
from models.clock import Clock
from models.db import session_scope
from models.digest import queue_daily_digest


@task(name="queue-daily-digest")
def queue_digest(today: dt.date, flow_run_id: str | None) -> int:
    with session_scope() as session:
        calendar = load_calendar(session=session)
        return queue_daily_digest(session=session, today=today, calendar=calendar, flow_run_id=flow_run_id)


@flow(name="daily_digest")
def daily_digest(as_of: dt.date | None = None) -> int:
    """Queue the digest mail to every supervisor; returns how many were queued."""
    today = as_of or Clock.from_settings().today()
    queued = queue_digest(today, current_run_id())
    get_run_logger().info("督办摘要 %s：%s 封", today, queued)
    return queued

"""Daily at 00:10 Asia/Shanghai: pledges past their deadline become overdue, pledgors are warned and
reminded, and every pledge still unfulfilled on or after its publication day (the 7th working day after
the deadline, configurable) is published as a breach record.

Thin on purpose: the flow lists ids and hands one batch per task to the set-based services in
``models.publication``; each task is one transaction. Catch-up is built in (everything due on or before
today), and every step is idempotent, so a missed night or a burst of runs after a crash is harmless.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task
from sqlmodel import Session

from flows._runtime import Batches, batched, current_run_id, last_event_id, publish_changes
from models.calendar import load_calendar
from models.clock import Clock
from models.db import get_engine
from models.errors import OutOfCalendarCoverage
from models.publication import STEP_LABELS, SWEEP_ORDER, candidates, recompute_pending, run_batch
from models.settings import get_settings
from models.workflow import Actor


@task(name="pledge-step-batch")
def step_batch(step: str, ids: list[int], today: dt.date, flow_run_id: str | None) -> int:
    return run_batch(engine=get_engine(), step=step, ids=ids, today=today, actor=Actor.system(flow_run_id))


@task(name="recompute-pending-publication-days")
def recompute(flow_run_id: str | None, today: dt.date) -> int:
    # The sweep's day, so a run for an earlier day (as_of) floors a day it dates from that day.
    return recompute_pending(engine=get_engine(), actor=Actor.system(flow_run_id), today=today)


@flow(name="publish_breaches")
def publish_breaches(as_of: dt.date | None = None, dry_run: bool = False) -> dict[str, int]:
    """Run the pledge sweep for ``as_of`` (default: today in Asia/Shanghai); returns counts per step."""
    today = as_of or Clock.from_settings().today()
    run_id = current_run_id()
    first_event = last_event_id()
    counts = {"recompute": 0 if dry_run else recompute(run_id, today)}
    batches = Batches("承诺巡检")
    for step in SWEEP_ORDER:
        # A step the calendar cannot serve (a year not loaded) must not keep the later steps from running.
        try:
            with Session(get_engine()) as session:
                ids = candidates(
                    session=session,
                    step=step,
                    today=today,
                    calendar=load_calendar(session=session),
                    dry_run=dry_run,
                )
        except OutOfCalendarCoverage as exc:
            get_run_logger().warning(
                "承诺巡检 %s：%s未执行：%s", today, STEP_LABELS.get(step, step), exc.message
            )
            counts[step] = 0
            continue
        if dry_run:
            counts[step] = len(ids)
            continue
        parts = list(batched(ids, get_settings().batch_size))
        futures = [step_batch.submit(step, batch, today, run_id) for batch in parts]
        label = STEP_LABELS.get(step, step)
        counts[step] = sum(
            batches.add_future(f, f"{label} #{i}（{part[0]}–{part[-1]}）")
            for i, (f, part) in enumerate(zip(futures, parts, strict=True), start=1)
        )
    get_run_logger().info("承诺巡检 %s%s：%s", today, "（演练）" if dry_run else "", counts)
    if not dry_run:
        publish_changes(
            key="publish-breaches", title=f"承诺巡检 {today}", after_id=first_event, flow_run_id=run_id
        )
    batches.check()
    return counts

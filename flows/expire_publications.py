"""Daily at 00:20 Asia/Shanghai: records whose publication period has ended (GSJZQ before today) stop
showing (``expire``). Idempotent: a record already expired is not in the candidate list."""

from __future__ import annotations

import datetime as dt

from prefect import flow, get_run_logger, task
from sqlmodel import Session

from flows._runtime import Batches, batched, current_run_id, last_event_id, publish_changes
from models.clock import Clock
from models.db import get_engine
from models.register import expire_records, expiry_candidates
from models.settings import get_settings
from models.workflow import Actor


@task(name="expire-batch")
def expire_batch(ids: list[int], today: dt.date, flow_run_id: str | None) -> int:
    with Session(get_engine(), expire_on_commit=False) as session:
        done = expire_records(session=session, ids=ids, today=today, actor=Actor.system(flow_run_id))
        session.commit()
        return done


@flow(name="expire_publications")
def expire_publications(as_of: dt.date | None = None) -> int:
    """Expire every record past its end date as of ``as_of`` (default today); returns how many."""
    today = as_of or Clock.from_settings().today()
    with Session(get_engine()) as session:
        ids = expiry_candidates(session=session, today=today)
    run_id = current_run_id()
    first_event = last_event_id()
    batches = Batches("公示期满撤下")
    for batch in batched(ids, get_settings().batch_size):
        batches.add(expire_batch(batch, today, run_id, return_state=True), f"{batch[0]}–{batch[-1]}")
    get_run_logger().info("公示期满撤下 %s：%s 条", today, batches.done)
    publish_changes(
        key="expire-publications", title=f"公示期满撤下 {today}", after_id=first_event, flow_run_id=run_id
    )
    batches.check()
    return batches.done

"""What every flow shares: the flow-run id to stamp on events, batching of ids, the system actor."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from prefect import get_run_logger
from prefect.client.schemas.objects import State
from prefect.futures import PrefectFuture
from sqlalchemy import func
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.db import get_engine
from models.errors import DomainError
from models.lifecycle import BREACH, COMPLAINT, PLEDGE, Lifecycle
from models.privacy import install_log_scrubber

T = TypeVar("T")

# Every flow module imports this one, so worker processes scrub personal data from their logs (and from
# the logs they ship to the Prefect server) just as the API does.
install_log_scrubber()
# Nothing leaves the machine: Prefect's anonymous usage telemetry is off wherever a flow runs (the product's
# default; an operator may still set the variable explicitly).
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")

_LIFECYCLES: dict[str, Lifecycle] = {"complaint": COMPLAINT, "pledge": PLEDGE, "breach": BREACH}

# The artifact lists at most this many changes; its description gives the total.
ARTIFACT_ROWS = 500


def current_run_id() -> str | None:
    """The id of the running Prefect flow run, or None outside a flow (CLI dry runs, tests of services)."""
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def batched(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


@dataclass
class Batches:
    """What a flow's batches came to: the sum of those that completed, and the ones that failed. One
    failed batch (its transaction rolled back, its cases left for the next run) must not keep the other
    batches, or a flow's later steps, from running; the run still ends failed, naming it (``check``)."""

    flow: str
    done: int = 0
    failed: list[str] = field(default_factory=list)

    def add(self, state: State[int], label: str) -> int:
        """Count a batch's final state (from ``task(..., return_state=True)`` or a future's ``state``);
        returns what it added."""
        if state.is_completed():
            done: int = state.result()
            self.done += done
            return done
        self.failed.append(label)
        get_run_logger().error("%s：批次 %s 失败，下次运行重试：%s", self.flow, label, state.message)
        return 0

    def add_future(self, future: PrefectFuture[int], label: str) -> int:
        future.wait()
        return self.add(future.state, label)

    def check(self) -> None:
        """Fail the run, after everything else ran, when a batch failed."""
        if self.failed:
            shown = "、".join(self.failed[:10]) + ("等" if len(self.failed) > 10 else "")
            raise RuntimeError(
                f"{self.flow}：{len(self.failed)} 个批次失败（{shown}），其余批次已完成；"
                "失败批次的案件由下次运行重试"
            )


def last_event_id() -> int:
    """The newest case event's id: a run's changes are the events after it that carry the run's id (a
    primary-key range, so reading them back costs no index on ``flow_run_id``)."""
    with Session(get_engine()) as session:
        return int(session.exec(select(func.max(CaseEvent.id))).one() or 0)


def _label(kind: str, name: str | None, *, event: bool = False) -> str:
    """The Chinese label of a state or event, its code when the lifecycle does not know it."""
    lifecycle = _LIFECYCLES.get(kind)
    if name is None or lifecycle is None:
        return name or ""
    try:
        return lifecycle.transition(name).label if event else lifecycle.state(name).label
    except DomainError:
        return name


def changes_table(*, after_id: int, flow_run_id: str) -> tuple[list[dict[str, Any]], int]:
    """The case events the run wrote: (the first ``ARTIFACT_ROWS`` as table rows, how many in all)."""
    where = (col(CaseEvent.id) > after_id, col(CaseEvent.flow_run_id) == flow_run_id)
    with Session(get_engine()) as session:
        total = int(session.exec(select(func.count()).select_from(CaseEvent).where(*where)).one())
        events = session.exec(
            select(CaseEvent).where(*where).order_by(col(CaseEvent.id)).limit(ARTIFACT_ROWS)
        )
        rows = [
            {
                "编号": e.case_number,
                "事件": _label(e.case_kind, e.event, event=True),
                "原状态": _label(e.case_kind, e.from_state),
                "新状态": _label(e.case_kind, e.to_state),
            }
            for e in events
        ]
    return rows, total


def publish_changes(*, key: str, title: str, after_id: int, flow_run_id: str | None) -> int:
    """Publish a Prefect table artifact listing the cases this run changed (number, event, from → to), so
    the Prefect UI answers "what did last night's run publish?"; returns how many events it lists in all.
    Outside a flow run there is nothing to attach it to."""
    if flow_run_id is None:
        return 0
    from prefect.artifacts import create_table_artifact

    rows, total = changes_table(after_id=after_id, flow_run_id=flow_run_id)
    shown = "" if total <= len(rows) else f"（列出前 {len(rows)} 条）"
    create_table_artifact(
        key=key,
        table=rows,
        description=f"{title}：本次运行改变 {total} 项{shown}"
        if total
        else f"{title}：本次运行没有改变任何案件",
    )
    return total

"""One work queue for every kind of case: the item a staff member's task list shows (a complaint's stage,
a pledge's evidence review, a breach record's objection or repair decision) and how the kinds' lists,
each ordered by deadline, become one. The complaint queue (models/complaints/queue.py) composes it from
the pledge reviews (models/pledges/review_queue.py) and the breach decisions (models/breach_queue.py),
which all import this module and none of each other's packages."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class TaskItem(BaseModel):
    id: int
    # "complaint", "pledge" for an evidence review (models/pledges/review_queue.py), or "breach" for an
    # objection or repair request awaiting decision (models/breach_queue.py), in the same queue.
    kind: str = "complaint"
    number: str
    state: str
    state_label: str
    summary: str
    stage_deadline: dt.date | None
    # A deadline in a year whose holiday notice is not loaded yet: shown as 待日历确定 until it is.
    deadline_pending: bool = False
    working_days_left: int | None = Field(description="剩余工作日（负数为已超期；暂停计时为空）")
    paused: bool
    actions: list[str]
    # How a complaint came in (12345, the window, the credit website column): the queue mixes them.
    channel: str | None = Field(default=None, description="投诉渠道（仅投诉）：hotline / window / website …")


def merge_by_deadline(first: list[TaskItem], second: list[TaskItem], limit: int) -> list[TaskItem]:
    """Two queues each ordered by deadline (None last) as one, still so ordered, at most ``limit`` long."""
    merged = sorted(
        [*first, *second], key=lambda t: (t.stage_deadline is None, t.stage_deadline or dt.date.max)
    )
    return merged[:limit]

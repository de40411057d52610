"""What a staff action's handler works with: the case, who acts, the day and the calendar, and ``fire``,
the one way a handler moves the case (``models.workflow.apply_event``). Shared by ``actions`` and the
modules of handlers it registers (``refusal``, ``closing``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.complaints.bodies import ActionBody
from models.complaints.preconditions import stage_events
from models.files import Upload
from models.hotline import report_stage_change
from models.workflow import Actor, apply_event


@dataclass
class ActionContext:
    session: Session
    case: Complaint
    actor: Actor
    today: dt.date
    calendar: WorkCalendar
    files: tuple[Upload, ...] = ()  # uploaded with the action (a rectification report's files)
    # What the action's precondition found (models/complaints/preconditions.py), for its audit event.
    grounds: dict[str, Any] = field(default_factory=dict)

    def fire(
        self, event: str, body: ActionBody, *, note: str | None = None, keep_stage: bool = False, **extra: Any
    ) -> CaseEvent:
        data = {k: v for k, v in extra.items() if k != "deadline_days"}
        result = apply_event(
            session=self.session,
            case=self.case,
            event=event,
            actor=self.actor,
            today=self.today,
            calendar=self.calendar,
            note=note or body.note,
            data=data,
            expected_version=body.expected_version,
            deadline_days=extra.get("deadline_days"),
            keep_stage=keep_stage,
        )
        assert result is not None, "human actions carry no idempotency key"
        report_stage_change(self.session, self.case, result)  # a 12345 order's platform is told, same txn
        return result

    def stage_events(self, event: str) -> list[CaseEvent]:
        """The case's ``event`` events of its current stage, oldest first."""
        return stage_events(self.session, self.case, event)

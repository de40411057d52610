"""Public tracking (/track): a complainant follows their case with its number and tracking password."""

from __future__ import annotations

from sqlmodel import Session, select

from models.clock import Clock
from models.complaint import Complaint
from models.complaints.bodies import TrackingResult, TrackingStep
from models.complaints.visibility import case_events, event_label, handling_case, state_label
from models.errors import NotFound
from models.lifecycle import COMPLAINT
from models.org import Department
from models.ratelimit import check_tracking_allowed, record_tracking_failure
from models.tracking_password import verify_tracking_password

# Internal working notes the complainant does not see on the public tracking page.
_NOT_PUBLIC_EVENTS = frozenset({"suggest", "warn_yellow", "warn_red", "merged_in"})
_NOT_FOUND = "投诉编号或查询密码不正确，请核对后重试 (number or password is wrong)"


def track(
    *, session: Session, number: str, password: str, clock: Clock, address: str | None = None
) -> TrackingResult:
    """Stages and dates of a case for its complainant; names and contacts are never part of it.

    Wrong passwords are counted per case number and per client ``address`` (models/ratelimit.py)."""
    now = clock.now()
    check_tracking_allowed(session=session, number=number, address=address, now=now)
    complaint = session.exec(select(Complaint).where(Complaint.number == number.strip().upper())).first()
    stored = complaint.tracking_password_hash if complaint else None
    if complaint is None or not verify_tracking_password(password, stored):
        record_tracking_failure(session=session, number=number, address=address, now=now)
        session.commit()
        raise NotFound(_NOT_FOUND)
    events = case_events(session, complaint)
    steps = [
        TrackingStep(label=event_label(e.event), date=clock.local_date(e.at))
        for e in events
        if e.event not in _NOT_PUBLIC_EVENTS
    ]
    # A merged case is handled, and replied to, as the case it joined: its complainant follows that one.
    handling = handling_case(session, complaint)
    # The latest reply is the one the complainant was given (a reopened case is replied to again).
    handled = events if handling is complaint else case_events(session, handling)
    replies = [e.note for e in handled if e.event == "reply" and e.note]
    # A paused stage's deadline moves when the case resumes, and a finished case has none: show neither.
    spec = COMPLAINT.state(complaint.state)
    return TrackingResult(
        number=complaint.number,
        state_label=state_label(complaint.state),
        registered_on=clock.local_date(complaint.created_at),
        stage_deadline=None if spec.terminal or spec.clock_paused else complaint.stage_deadline,
        deadline_pending=complaint.deadline_pending and not (spec.terminal or spec.clock_paused),
        steps=steps,
        department_name=_handling_department(session, handling),
        reply_text=replies[-1] if replies else None,
        merged_into=handling.number if handling is not complaint else None,
    )


def _handling_department(session: Session, complaint: Complaint) -> str | None:
    """The lead department once the case is dispatched, else the department complained about."""
    department_id = complaint.lead_department_id or complaint.respondent_department_id
    department = session.get(Department, department_id) if department_id else None
    return department.name if department else None

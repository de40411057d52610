"""The supervisors' daily digest: overdue and due-soon stages per party they await, of every kind the
dashboard supervises (complaint stages, pledge evidence reviews, objection and repair decisions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlmodel import Session, col, select

from models.accounts import active_supervisors
from models.bulk import insert_rows
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.dashboard import AwaitedStage, awaited_stages, tally_by_party
from models.lifecycle import Role
from models.org import User
from models.outbox import Notification, outbox_rows
from models.pending_deadlines import KIND_LABELS, calendar_warning
from models.platform_admin import platform_alarms
from models.settings import get_settings

DUE_SOON_WORKING_DAYS = 2
# A digest lists each department's most urgent cases by number; the rest are in the counts and the queue.
DIGEST_CASES_PER_DEPARTMENT = 20


def digest_rows(*, session: Session, today: dt.date, calendar: WorkCalendar) -> list[dict[str, Any]]:
    """Per party a running stage awaits (a department, or intake and the supervisors): stages of every
    kind the dashboard supervises (complaint stages, evidence reviews, objection and repair decisions)
    past their deadline, and those due within 2 working days, each department's most urgent named.

    Counted and named from the dashboard's one query (``awaited_stages``, ``tally_by_party``): a case
    paused awaiting the complainant has a frozen deadline and is neither overdue nor due soon, and a late
    evidence review is its authority's, in the mail as on the page."""
    soon = calendar.horizon(today, DUE_SOON_WORKING_DAYS)  # never stops on an unloaded next year
    session.flush()  # the dashboard's Core statements do not autoflush: this session's changes count too
    stages = awaited_stages(session=session, through=soon)
    rows = [
        {
            "department_name": d.name,
            "department_code": d.code,
            "overdue": d.overdue,
            "due_soon": d.due_soon,
            "cases": [],
        }
        for d in sorted(tally_by_party(stages, today), key=lambda d: (d.name, d.code))
    ]
    _name_the_cases(rows, stages, today)
    return rows


def _name_the_cases(rows: list[dict[str, Any]], stages: list[AwaitedStage], today: dt.date) -> None:
    """Each party's cases by number, with what is late and a link to the staff case page: counts alone
    send nobody anywhere. Most urgent first (``stages`` is soonest first), at most
    DIGEST_CASES_PER_DEPARTMENT (the counts stay whole)."""
    base = get_settings().public_base_url.rstrip("/")
    by_code = {r["department_code"]: r for r in rows}  # names need not be unique; codes are
    for stage in stages:
        row = by_code[stage.party_code]
        if len(row["cases"]) >= DIGEST_CASES_PER_DEPARTMENT:
            continue
        row["cases"].append(
            {
                "number": stage.number,
                "url": f"{base}{stage.href}",
                "deadline": stage.deadline.isoformat(),
                "overdue": stage.deadline < today,
                # Added later: digests queued before it lack it (the templates read it with ``is defined``).
                "stage_label": KIND_LABELS[stage.kind],
            }
        )


def queue_daily_digest(
    *, session: Session, today: dt.date, calendar: WorkCalendar, flow_run_id: str | None = None
) -> int:
    """Queue today's digest to every active supervisor, once per day; nothing on non-working days (Monday
    to Friday but 1 January while the year has no holiday notice).

    Returns the number of messages queued (0 on a holiday, or when today's digest was already queued).
    """
    workday = calendar.is_workday_if_known(today)
    if workday is None:
        # A January before the year's notice is loaded: the digest is what tells supervisors it is
        # missing, so it goes out Monday to Friday (a mail on a holiday harms nothing; a missed one would),
        # except on 1 January, 元旦, a holiday every year by statute (全国年节及纪念日放假办法) whatever the
        # notice will say.
        workday = today.weekday() < 5 and (today.month, today.day) != (1, 1)
    if not workday:
        return 0
    rows = digest_rows(session=session, today=today, calendar=calendar)
    alarms = platform_alarms(session=session, today=today, calendar=calendar)
    # The credit platform's alarms: documents without a receipt past the deadline, no platform configured.
    platform = {
        "unconfigured": alarms.unconfigured,
        "unsigned": alarms.unsigned,
        "overdue": len(alarms.overdue),
        "overdue_documents": [d.document_id for d in alarms.overdue[:20]],
        "working_days": alarms.working_days,
    }
    warning = calendar_warning(calendar, today)
    recipients = active_supervisors(session=session)
    if warning:
        # Administrators load the holiday notice: while it is missing they get the digest too, saying so.
        recipients += session.exec(
            select(User).where(User.role == Role.ADMIN, col(User.active).is_(True)).order_by(col(User.id))
        ).all()
    keys = {user.id: f"digest:{today.isoformat()}:{user.id}" for user in recipients}
    queued_before = set(
        session.exec(
            select(Notification.idempotency_key).where(col(Notification.idempotency_key).in_(keys.values()))
        )
    )
    context = {
        "digest_date": today.isoformat(),
        "rows": rows,
        "platform": platform,
        "calendar_warning": warning,
    }
    now = utcnow()
    messages = [
        row
        for user in recipients
        if keys[user.id] not in queued_before
        for row in outbox_rows(
            template="daily_digest",
            recipient_kind="supervisor",
            recipient_name=user.name,
            recipient_email=user.email,
            key=keys[user.id],
            context=context,
            now=now,
            flow_run_id=flow_run_id,
        )
    ]
    # A second run at the same time (a manual run beside the schedule, two workers) read the same keys as
    # missing: the unique key decides which run queues each message, and neither fails.
    insert_rows(session, Notification.__table__, messages, on_conflict_do_nothing=["idempotency_key"])  # type: ignore[attr-defined]
    queued = sum(1 for user in recipients if keys[user.id] not in queued_before)
    return queued

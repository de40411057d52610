"""The one deadline-warning rule shared by complaints and the register's review stages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from models.calendar import WorkCalendar
from models.deadlines import due_steps, step_event
from models.settings import get_settings

DEADLINE = dt.date(2026, 3, 9)  # a Monday


@pytest.mark.parametrize(
    ("today", "complaint", "breach"),
    [
        (dt.date(2026, 3, 5), [], []),  # two working days left
        (dt.date(2026, 3, 6), ["yellow"], ["yellow"]),  # Friday: the last working day before
        (dt.date(2026, 3, 9), ["yellow"], ["yellow"]),  # the deadline itself
        (dt.date(2026, 3, 10), ["red", "remind"], ["red", "remind"]),
        (dt.date(2026, 3, 12), ["red", "remind", "supervise"], ["red", "remind"]),  # 3 working days over
        (dt.date(2026, 3, 16), ["red", "remind", "supervise", "escalate"], ["red", "remind"]),  # 5 over
    ],
)
def test_steps_for_a_complaint_and_for_a_register_review(
    calendar: WorkCalendar, today: dt.date, complaint: list[str], breach: list[str]
) -> None:
    # Complaints have 督办 and 提级办理 after 3 and 5 overdue working days; the register's stages do not.
    got = due_steps(deadline=DEADLINE, today=today, calendar=calendar, supervise_after=3, escalate_after=5)
    assert got == complaint
    assert due_steps(deadline=DEADLINE, today=today, calendar=calendar) == breach


def test_no_deadline_no_steps_and_the_events_fired(calendar: WorkCalendar) -> None:
    assert due_steps(deadline=None, today=DEADLINE, calendar=calendar, supervise_after=1) == []
    assert [step_event(s) for s in ("yellow", "red", "remind", "supervise", "escalate")] == [
        "warn_yellow",
        "warn_red",
        "remind",
        "supervise",
        "escalate",
    ]


def test_a_case_whose_commit_is_refused_counts_no_steps(
    session: Any, staff: Any, calendar: WorkCalendar
) -> None:
    """A step whose commit loses to another run (its idempotency key taken first) is rolled back, so the
    count the flow reports must not include it."""
    from models.deadlines import supervise_each
    from models.outbox import Notification, outbox_row
    from models.pledge import Pledge
    from tests.test_publication import new_pledge

    def queue() -> None:
        row = outbox_row(
            template="t", recipient_kind="k", recipient_name="n", recipient_email=None, key="same",
            context={}, now=dt.datetime(2026, 3, 10, tzinfo=dt.UTC),
        )  # fmt: skip
        session.add(Notification(**row))

    pledge = new_pledge(session, dt.date(2026, 3, 20))
    queue()
    session.commit()

    def supervise(_case: Any) -> int:
        queue()  # the same key again: the commit fails with an IntegrityError
        return 1

    applied = supervise_each(
        session=session, model=Pledge, ids=[pledge.id], states={"registered"},
        today=dt.date(2026, 3, 10), calendar=calendar, supervise=supervise,
    )  # fmt: skip
    assert applied == 0


def test_a_locality_warns_yellow_earlier_by_setting(
    calendar: WorkCalendar, monkeypatch: pytest.MonkeyPatch
) -> None:
    # RULEBOOK: every duration is a default; a locality warning two working days ahead says so once.

    monkeypatch.setenv("SHOUXIN_YELLOW_WARNING_WORKING_DAYS", "2")
    get_settings.cache_clear()
    try:
        assert due_steps(deadline=DEADLINE, today=dt.date(2026, 3, 5), calendar=calendar) == ["yellow"]
        assert due_steps(deadline=DEADLINE, today=dt.date(2026, 3, 4), calendar=calendar) == []
    finally:
        monkeypatch.delenv("SHOUXIN_YELLOW_WARNING_WORKING_DAYS")
        get_settings.cache_clear()

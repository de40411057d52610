"""A publication day pending (待日历确定) while its year is not loaded, which gets its date only after that
day has come or nearly so, is never earlier than the grace after the day it got it
(``pledge_rejection_grace_working_days``, 3): the pledgor, told only then, is never told a day already past
nor published without a chance to act (RULEBOOK informed pledges §3: never published for the authority's
delay).

2026 is loaded, 2027 is not. Deadlines 2026-12-23 and 2026-12-24 have their 7th working day on Monday
2027-01-04 and Tuesday 2027-01-05 (元旦 1–3 January). The administrator loads 2027 on Tuesday 2027-01-05:
the 3rd working day after it is Friday 2027-01-08."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.calendar import load_calendar, parse_year_file, parse_year_notice, save_year_notice
from models.calendar_admin import load_year_notice
from models.outbox import Notification
from models.pledge import Pledge
from models.publication import recompute_publication_days
from tests.conftest import Staff
from tests.test_december_pending_deadlines import ADMIN, EXAMPLE_2027
from tests.test_publication import SYSTEM, new_pledge, run

LOADED_ON = dt.date(2027, 1, 5)
GRACE_DAY = dt.date(2027, 1, 8)  # the 3rd working day after LOADED_ON


def two_pending_pledges(session: Session) -> list[Pledge]:
    pledges = [
        new_pledge(session, dt.date(2026, 12, 23), registered_on=dt.date(2026, 12, 1)),
        new_pledge(session, dt.date(2026, 12, 24), name="平安夜建设有限公司", code=None,
                   registered_on=dt.date(2026, 12, 1)),
    ]  # fmt: skip
    assert [p.publication_day for p in pledges] == [None, None]
    return pledges


def sweep_days(engine: Engine, first: dt.date, last: dt.date) -> None:
    day = first
    while day <= last:
        run(engine, day)
        day += dt.timedelta(days=1)


def day_of(session: Session, pledge: Pledge) -> dt.date | None:
    session.expire_all()
    found = session.get(Pledge, pledge.id)
    assert found is not None
    return found.publication_day


def told_days(session: Session, pledge: Pledge) -> list[str]:
    mails = session.exec(
        select(Notification)
        .where(Notification.case_id == pledge.id, Notification.template == "pledge_publication_day_set")
        .order_by(col(Notification.id))
    ).all()
    return [m.context["publication_day"] for m in mails]


def published_on(session: Session, pledge: Pledge) -> list[dt.date]:
    records = session.exec(select(PublishedBreach).where(PublishedBreach.pledge_id == pledge.id)).all()
    return [b.decision_date for b in records]


def recompute_events(session: Session, pledge: Pledge) -> list[CaseEvent]:
    return list(
        session.exec(
            select(CaseEvent)
            .where(CaseEvent.case_id == pledge.id, CaseEvent.event == "recompute")
            .order_by(col(CaseEvent.id))
        )
    )


def test_a_day_known_only_when_past_is_told_and_published_after_the_grace_from_the_load(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledges = two_pending_pledges(session)
    sweep_days(engine, dt.date(2026, 12, 15), dt.date(2027, 1, 4))
    load_year_notice(
        session=session,
        notice=parse_year_file(EXAMPLE_2027),
        loaded_by="管理员",
        actor=ADMIN,
        today=LOADED_ON,
    )
    session.commit()
    calendar = load_calendar(session=session)
    assert calendar.nth_working_day_after(LOADED_ON, 3) == GRACE_DAY

    for pledge, computed in zip(pledges, (dt.date(2027, 1, 4), dt.date(2027, 1, 5)), strict=True):
        assert calendar.nth_working_day_after(pledge.deadline, 7) == computed
        assert day_of(session, pledge) == GRACE_DAY
        assert told_days(session, pledge) == [GRACE_DAY.isoformat()]
        [event] = recompute_events(session, pledge)
        assert (event.data["old"], event.data["new"]) == (None, GRACE_DAY.isoformat())
        assert event.data["known_late"] == {
            "computed": computed.isoformat(),
            "known_on": LOADED_ON.isoformat(),
            "grace_working_days": 3,
            "reason": "publication_day_known_late",
        }
        assert event.note is not None
        assert "方才确定" in event.note

    # A full recompute later (the calendar unchanged) keeps the told day: no event, no mail.
    assert recompute_publication_days(
        session=session, calendar=calendar, actor=SYSTEM, today=dt.date(2027, 1, 6)
    ) == 0  # fmt: skip
    session.commit()
    # A correction that would pull the 12-23 pledge's day to 01-05 keeps the told day too.
    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    data["holidays"][0]["end"] = "2027-01-04"
    load_year_notice(
        session=session, notice=parse_year_notice(json.dumps(data)), loaded_by="管理员", actor=ADMIN,
        today=dt.date(2027, 1, 6),
    )  # fmt: skip
    session.commit()
    assert [day_of(session, p) for p in pledges] == [GRACE_DAY, GRACE_DAY]
    kept = recompute_events(session, pledges[0])[-1]
    assert (kept.data["computed"], kept.data["kept_told_day"]) == ("2027-01-05", True)

    sweep_days(engine, LOADED_ON, GRACE_DAY - dt.timedelta(days=1))
    assert [published_on(session, p) for p in pledges] == [[], []]
    run(engine, GRACE_DAY)
    assert [published_on(session, p) for p in pledges] == [[GRACE_DAY], [GRACE_DAY]]


def test_the_sweep_dating_a_pending_day_counts_the_grace_from_its_own_day(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledges = two_pending_pledges(session)
    # 2027 stored without the load's recompute (as a notice reaching the database by another path): the
    # sweep's recompute of pending days dates them, on the day it runs.
    save_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员")
    session.commit()
    run(engine, LOADED_ON)
    assert [day_of(session, p) for p in pledges] == [GRACE_DAY, GRACE_DAY]
    assert [told_days(session, p) for p in pledges] == [[GRACE_DAY.isoformat()]] * 2
    assert [published_on(session, p) for p in pledges] == [[], []]
    run(engine, GRACE_DAY)
    assert [published_on(session, p) for p in pledges] == [[GRACE_DAY], [GRACE_DAY]]


def test_a_pending_day_known_well_ahead_keeps_the_day_the_calendar_gives(
    session: Session, staff: Staff
) -> None:
    pledges = two_pending_pledges(session)
    load_year_notice(
        session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN,
        today=dt.date(2026, 12, 20),
    )  # fmt: skip
    session.commit()
    assert [day_of(session, p) for p in pledges] == [dt.date(2027, 1, 4), dt.date(2027, 1, 5)]
    assert all("known_late" not in e.data for p in pledges for e in recompute_events(session, p))


@pytest.mark.parametrize("today", [LOADED_ON])
def test_loading_the_year_through_the_admin_api_floors_the_day_by_the_apps_today(
    client: TestClient, session: Session, staff: Staff
) -> None:
    pledges = two_pending_pledges(session)
    session.commit()
    notice = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    saved = client.post("/api/v1/admin/calendar", json=notice, headers=staff.auth("admin"))
    assert saved.status_code == 200, saved.text
    assert [day_of(session, p) for p in pledges] == [GRACE_DAY, GRACE_DAY]

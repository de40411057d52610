"""A back-registered pledge (its deadline already past when registered) is never published before the N-th
working day after its registration day (models/pledge.py ``registration_publication_day``), also when a
calendar notice is loaded and every open pledge's publication day is computed again."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.calendar import parse_year_file
from models.calendar_admin import load_year_notice
from models.lifecycle import PledgeState
from models.pledge import Pledge
from tests.conftest import Staff
from tests.test_december_pending_deadlines import ADMIN, EXAMPLE_2027
from tests.test_publication import new_pledge, run


def reload(session: Session, pledge: Pledge) -> Pledge:
    session.expire_all()
    found = session.get(Pledge, pledge.id)
    assert found is not None
    return found


def load_2027(session: Session) -> None:
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    session.commit()


def test_a_calendar_load_keeps_a_back_registered_pledges_days_and_the_sweep_waits_for_them(
    engine: Engine, session: Session, staff: Staff
) -> None:
    late = new_pledge(session, dt.date(2026, 2, 2), registered_on=dt.date(2026, 3, 2))
    assert (late.registered_on, late.publication_day) == (dt.date(2026, 3, 2), dt.date(2026, 3, 11))
    ordinary = new_pledge(session, dt.date(2026, 2, 12), name="按期登记有限公司", code=None)
    load_2027(session)  # recomputes every open pledge
    assert reload(session, late).publication_day == dt.date(2026, 3, 11)
    assert reload(session, ordinary).publication_day == dt.date(2026, 2, 28)  # from its deadline, as before
    run(engine, dt.date(2026, 3, 3))
    assert reload(session, late).state != PledgeState.PUBLISHED


def test_a_back_registered_pledges_pending_day_is_counted_from_its_registration_day_at_year_end(
    session: Session, staff: Staff
) -> None:
    # Registered 28 December for a deadline of 10 December: the 7th working day after the 28th is in 2027.
    late = new_pledge(session, dt.date(2026, 12, 10), registered_on=dt.date(2026, 12, 28))
    assert late.publication_day is None
    load_2027(session)
    day = reload(session, late).publication_day
    assert day is not None
    assert day > dt.date(2026, 12, 28)  # not 2026-12-21, the 7th working day after the deadline

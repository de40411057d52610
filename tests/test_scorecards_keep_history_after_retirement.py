"""A retirement moves a department's open work to its successor, but a scorecard for a period counts each
case for the department it belonged to at the end of that period: a past period keeps showing the retired
department's work under the retired department, and the successor is not credited with it; a period ending
after the retirement counts it for the successor (and after a second retirement, for that one's)."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.complaint import Complaint
from models.department_retire import retire_by_code
from models.lifecycle import PledgeState, Role
from models.org import Department
from models.pledge import Pledge
from models.scorecard import Period, department_scores, period_of
from models.scorecard_pledges import pledge_scores
from models.settings import get_settings
from models.workflow import Actor
from tests.conftest import TODAY, Staff
from tests.test_department_retired import REASON, _object, dispatched
from tests.test_publication import new_pledge
from tests.test_register import publish

ADMIN = Actor(name="管理员", role=Role.ADMIN)
# The reorganisation takes effect on 2026-03-02, 10:00 Beijing time.
RETIRED_AT = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)
JANUARY = period_of("month", dt.date(2026, 1, 1))
FEBRUARY = period_of("month", dt.date(2026, 2, 1))
FIRST_QUARTER = period_of("quarter", dt.date(2026, 1, 1))


def _retire(session: Session, code: str, successor: str, now: dt.datetime = RETIRED_AT) -> None:
    retire_by_code(session=session, code=code, successor_code=successor, actor=ADMIN, now=now, reason=REASON)
    session.commit()
    session.expire_all()


def _pledges(session: Session, period: Period) -> dict[str, tuple[int, int, int, int]]:
    """(due, fulfilled, broken, published) per department code."""
    return {
        r.code: (r.due, r.fulfilled, r.broken, r.published)
        for r in pledge_scores(session=session, period=period)
    }


def _handled(session: Session, period: Period) -> dict[str, int]:
    """Complaints led per department code (rows only there for staff acting are left out)."""
    rows = department_scores(session=session, today=TODAY, period=period)
    return {r.code: r.handled for r in rows if r.handled}


def _authority_of(session: Session, pledge_id: int | None) -> str:
    pledge = session.get(Pledge, pledge_id)
    assert pledge is not None
    return session.exec(select(Department.code).where(Department.id == pledge.authority_id)).one()


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The retirement's day is 2026-03-02 (records published on 2026-02-28 are still shown then)."""
    monkeypatch.setenv("SHOUXIN_TODAY", TODAY.isoformat())
    get_settings.cache_clear()


@pytest.mark.usefixtures("staff", "pinned")
def test_past_months_pledge_scorecards_keep_the_retired_authority_and_later_periods_the_successor(
    session: Session, engine: Engine
) -> None:
    fulfilled = new_pledge(session, dt.date(2026, 1, 20), name="另一建设有限公司")
    fulfilled.state = PledgeState.FULFILLED
    session.add(fulfilled)
    session.commit()
    publish(engine, session, ("示范建设有限公司", "91110000100000000R"))  # due 02-12, published 02-28
    before = (_pledges(session, JANUARY), _pledges(session, FEBRUARY))
    assert before == ({"D01": (1, 1, 0, 0)}, {"D01": (1, 0, 1, 1)})

    _retire(session, "D01", "D02")

    # Both moved to the successor (the fulfilled one may yet be found false, the record is still shown)...
    assert {_authority_of(session, p.id) for p in session.exec(select(Pledge)).all()} == {"D02"}
    assert (_pledges(session, JANUARY), _pledges(session, FEBRUARY)) == before
    # ...and a period ending after the retirement counts them for the successor.
    assert _pledges(session, FIRST_QUARTER) == {"D02": (2, 1, 1, 1)}


@pytest.mark.usefixtures("staff", "pinned")
def test_two_retirements_in_a_row_give_each_period_the_department_of_its_end(session: Session) -> None:
    new_pledge(session, dt.date(2026, 1, 20))
    _retire(session, "D01", "D02")
    _retire(session, "D02", "D00", now=dt.datetime(2026, 4, 1, 2, tzinfo=dt.UTC))

    assert _pledges(session, JANUARY) == {"D01": (1, 0, 0, 0)}
    assert _pledges(session, FIRST_QUARTER) == {"D02": (1, 0, 0, 0)}
    assert _pledges(session, period_of("year", dt.date(2026, 1, 1))) == {"D00": (1, 0, 0, 0)}


def test_a_past_months_complaints_stay_with_the_lead_they_had_and_an_assisted_one_with_its_own_lead(
    client: TestClient, staff: Staff, session: Session
) -> None:
    led = dispatched(client, staff, "D01", ["K01"])
    assisted = dispatched(client, staff, "D02", ["D01"])
    session.expire_all()
    for cid in (led, assisted):
        case = session.get(Complaint, cid)
        assert case is not None
        case.created_at = dt.datetime(2026, 1, 15, 2, tzinfo=dt.UTC)
        session.add(case)
    session.commit()
    assert _handled(session, JANUARY) == {"D01": 1, "D02": 1}

    _retire(session, "D01", "D02")

    successor = session.exec(select(Department.id).where(Department.code == "D02")).one()
    leads = {c.lead_department_id for c in session.exec(select(Complaint)).all()}
    assert leads == {successor}
    assert _handled(session, JANUARY) == {"D01": 1, "D02": 1}
    assert _handled(session, FIRST_QUARTER) == {"D02": 2}


@pytest.mark.usefixtures("pinned")
def test_objections_lodged_before_the_retirement_count_for_the_retired_deciding_department(
    client: TestClient, staff: Staff, session: Session, engine: Engine
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", "91110000100000000R"))
    _object(client, session, record)
    lodged_at = session.exec(
        select(CaseEvent.at).where(CaseEvent.case_kind == "breach", CaseEvent.event == "object")
    ).one()
    # The days around the objection's stored moment, and a retirement after them.
    day = lodged_at.date()
    around = period_of("custom", day, start=day - dt.timedelta(days=1), end=day + dt.timedelta(days=1))
    assert _objections(session, around) == {"D01": 1}

    _retire(session, "D01", "D02", now=around.bounds()[1] + dt.timedelta(hours=1))

    assert _department_of(session, record.id) == "D02"  # the successor decides it now
    assert _objections(session, around) == {"D01": 1}
    assert staff.handler2  # its handler decides; the figure stays with the department that had it then


def _objections(session: Session, period: Period) -> dict[str, int]:
    return {r.code: r.objections for r in pledge_scores(session=session, period=period) if r.objections}


def _department_of(session: Session, record_id: int | None) -> str:
    stored = session.get(PublishedBreach, record_id)
    assert stored is not None
    return session.exec(select(Department.code).where(Department.id == stored.department_id)).one()


def test_a_complaint_whose_assisting_then_lead_department_retired_stays_with_its_lead_of_then(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched(client, staff, "D01", ["K01"])
    session.expire_all()
    case = session.get(Complaint, cid)
    assert case is not None
    case.created_at = dt.datetime(2026, 1, 15, 2, tzinfo=dt.UTC)
    session.add(case)
    session.commit()

    _retire(session, "K01", "D02")  # K01 only assisted: the lead stays D01
    _retire(session, "D01", "D00", now=dt.datetime(2026, 4, 1, 2, tzinfo=dt.UTC))

    assert _handled(session, JANUARY) == {"D01": 1}

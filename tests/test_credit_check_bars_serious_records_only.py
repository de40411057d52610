"""RULEBOOK pledges §2: only *serious* bad credit bars the pledge route. Every overdue pledge is published
as 一般, so one missed deadline must not refuse its pledgor the pledge route for a year; a shown 严重 record
does, and the single check and the import's set-based one agree on which."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.breach import PublishedBreach, Severity
from models.errors import ValidationFailed
from models.pledges import credit_check
from tests.conftest import Staff
from tests.test_false_pledge_is_recorded_and_repairable import NAME, import_refusal
from tests.test_publication import CODE, new_pledge, run

PUBLISHED = dt.date(2026, 3, 16)  # the 7th working day after the 2026-03-05 deadline
LATER = dt.date(2026, 4, 1)


def _published(engine: Engine, session: Session) -> PublishedBreach:
    new_pledge(session, dt.date(2026, 3, 5), registered_on=dt.date(2026, 3, 2))
    assert run(engine, PUBLISHED)["publish"] == 1
    session.expire_all()
    return session.exec(select(PublishedBreach)).one()


def test_an_overdue_pledge_published_as_general_does_not_bar_its_pledgor(
    engine: Engine, session: Session, staff: Staff
) -> None:
    del staff
    record = _published(engine, session)
    assert record.severity == Severity.GENERAL
    credit_check(session=session, credit_code=CODE, name=NAME, today=LATER)
    assert import_refusal(session, LATER) is None
    new_pledge(session, dt.date(2026, 5, 20), registered_on=LATER)


@pytest.mark.parametrize("severity", [Severity.MINOR, Severity.SERIOUS])
def test_only_a_shown_serious_record_bars_both_checks(
    engine: Engine, session: Session, staff: Staff, severity: Severity
) -> None:
    del staff
    record = _published(engine, session)
    session.execute(
        update(PublishedBreach).where(col(PublishedBreach.id) == record.id).values(severity=severity)
    )
    session.commit()
    refusal = import_refusal(session, LATER)
    if severity != Severity.SERIOUS:
        credit_check(session=session, credit_code=CODE, name=NAME, today=LATER)
        assert refusal is None
        return
    with pytest.raises(ValidationFailed) as refused:
        credit_check(session=session, credit_code=CODE, name=NAME, today=LATER)
    assert refused.value.details["reason"] == "current_breach"
    assert refused.value.details["record_number"] == record.number
    assert refusal is not None
    assert record.number in refusal

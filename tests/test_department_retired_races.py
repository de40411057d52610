"""A retirement (撤并) holds both departments' rows, and registrations hold a share of theirs: two
retirements at once take turns (of one department into two successors, of two into each other), and new
work never lands on a department already retired — it is refused, naming the successor."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.department_retire import retire_by_code
from models.errors import DomainError, ValidationFailed
from models.lifecycle import Role
from models.org import Department
from models.pledge import Pledge
from models.workflow import Actor
from tests.test_concurrency import _together, shared_engine  # noqa: F401 - the fixture
from tests.test_publication import new_pledge

ADMIN = Actor(name="管理员", role=Role.ADMIN)
NOW = dt.datetime(2026, 3, 3, 2, 0, tzinfo=dt.UTC)


def _retire_at_once(engine: Engine, pairs: list[tuple[str, str]]) -> list[str]:
    outcomes: list[str] = []

    def work(i: int) -> None:
        code, successor = pairs[i]
        with Session(engine, expire_on_commit=False) as session:
            try:
                retire_by_code(
                    session=session,
                    code=code,
                    successor_code=successor,
                    actor=ADMIN,
                    now=NOW,
                    reason="机构改革",
                )
                session.commit()
                outcomes.append("retired")
            except DomainError:
                outcomes.append("refused")

    _together(len(pairs), work)
    return sorted(outcomes)


def _departments(engine: Engine) -> dict[str, Department]:
    with Session(engine) as session:
        return {d.code: d for d in session.exec(select(Department)).all()}


def test_two_departments_retired_into_each_other_at_once_leave_one_active_with_the_work(
    shared_engine: Engine,  # noqa: F811
) -> None:
    with Session(shared_engine) as session:
        pledge_id = new_pledge(session, dt.date(2026, 4, 30)).id
        session.commit()
    assert _retire_at_once(shared_engine, [("D01", "K01"), ("K01", "D01")]) == ["refused", "retired"]
    by_code = _departments(shared_engine)
    assert sorted(d.active for d in (by_code["D01"], by_code["K01"])) == [False, True]
    with Session(shared_engine) as session:
        stored = session.get(Pledge, pledge_id)
        assert stored is not None
        holder = session.get(Department, stored.authority_id)
        assert holder is not None
        assert holder.active  # the open pledge is with the department still active


def test_one_department_retired_into_two_successors_at_once_goes_to_one_with_its_work(
    shared_engine: Engine,  # noqa: F811
) -> None:
    with Session(shared_engine) as session:
        pledge_id = new_pledge(session, dt.date(2026, 4, 30)).id
        session.commit()
    assert _retire_at_once(shared_engine, [("D01", "D02"), ("D01", "K01")]) == ["refused", "retired"]
    retired = _departments(shared_engine)["D01"]
    with Session(shared_engine) as session:
        stored = session.get(Pledge, pledge_id)
        assert stored is not None
        assert stored.authority_id == retired.successor_id


def test_new_work_and_staff_for_a_retired_department_are_refused_naming_its_successor(
    shared_engine: Engine,  # noqa: F811
) -> None:
    with Session(shared_engine) as session:
        retire_by_code(
            session=session, code="D01", successor_code="D02", actor=ADMIN, now=NOW, reason="机构改革"
        )
        session.commit()
    with (
        Session(shared_engine) as session,
        pytest.raises(ValidationFailed, match="已撤并，由 D02 .* 承接；请改用 D02"),
    ):
        new_pledge(session, dt.date(2026, 4, 30))
    from models.accounts import create_user
    from models.org import UserCreate

    with Session(shared_engine) as session, pytest.raises(ValidationFailed, match="已撤并"):
        create_user(
            session=session, data=UserCreate(name="新经办人", role=Role.HANDLER, department_code="D01")
        )

"""Where several rows match and one is named or used, the choice is fixed by the query, not by the order in
which the backend happens to return rows (PostgreSQL returns heap order, which an UPDATE changes)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from models.accounts import authenticate_password, create_user, set_password
from models.breach import PublishedBreach, Severity
from models.errors import ValidationFailed
from models.lifecycle import PledgeState, Role
from models.org import Department, User, UserCreate
from models.pledge import Pledge, PledgorKind
from models.pledges import credit_check
from tests.conftest import Staff

TODAY = dt.date(2026, 3, 2)


def _breach(dept: int, number: str, name: str) -> PublishedBreach:
    return PublishedBreach(
        number=number, subject_name=name, matter="事项", department_id=dept, decision_date=TODAY,
        publication_end=TODAY, repair_earliest=TODAY, source_kind="pledge", subject_kind="individual",
        facts="逾期", basis="告知承诺书", severity=Severity.SERIOUS,
    )  # fmt: skip


def _false_pledge(dept: int, seq: int, name: str) -> Pledge:
    return Pledge(
        number=f"CN-2025-{seq:06d}", year=2025, seq=seq, state=PledgeState.FALSE_PLEDGE, authority_id=dept,
        pledgor_kind=PledgorKind.INDIVIDUAL, pledgor_name=name, matter="事项", obligation="材料",
        deadline=TODAY,
    )  # fmt: skip


def test_the_credit_check_names_the_newest_of_several_records(session: Session, staff: Staff) -> None:
    del staff  # departments D00–D02
    dept = session.exec(select(Department.id).where(Department.code == "D01")).one()
    assert dept is not None
    session.add(_breach(dept, "GS-2026-000001", "张三"))
    session.commit()
    session.add(_breach(dept, "GS-2026-000002", "张三"))
    session.add(_false_pledge(dept, 900, "李四"))
    session.commit()
    session.add(_false_pledge(dept, 901, "李四"))
    session.commit()

    with pytest.raises(ValidationFailed) as breach:
        credit_check(session=session, credit_code=None, name="张三", today=TODAY)
    assert breach.value.details["record_number"] == "GS-2026-000002"
    with pytest.raises(ValidationFailed) as false:
        credit_check(session=session, credit_code=None, name="李四", today=TODAY)
    assert false.value.details["pledge_number"] == "CN-2025-000901"


def test_a_shared_name_and_password_signs_in_the_oldest_account(session: Session) -> None:
    first, _ = create_user(session=session, data=UserCreate(name="督办员老王", role=Role.SUPERVISOR))
    second, _ = create_user(session=session, data=UserCreate(name="督办员老王", role=Role.SUPERVISOR))
    for user in (first, second):
        set_password(session=session, user=user, password="同一个口令-0123456789")
    session.commit()
    # Rewriting the older row moves it behind the newer one in PostgreSQL's heap.
    session.execute(update(User).where(col(User.id) == first.id).values(email="wang@example.com"))
    session.commit()
    for _ in range(2):
        user = authenticate_password(session=session, name="督办员老王", password="同一个口令-0123456789")
        assert user is not None
        assert user.id == first.id

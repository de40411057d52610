"""Page sign-in does not tell an attacker which staff names exist (security probe round 2, item 8)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

import models.accounts as accounts
from models.accounts import authenticate_password, set_password
from models.org import User
from tests.conftest import Staff


@pytest.fixture
def verifications(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every argon2 verification the sign-in runs, by the hash it checked against."""
    seen: list[str] = []
    real = accounts._password_hasher

    class Counting:
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, hash_: str, password: Any) -> bool:
            seen.append("dummy" if hash_ == accounts._DUMMY_PASSWORD_HASH else "account")
            return real.verify(hash_, password)

    monkeypatch.setattr(accounts, "_password_hasher", Counting())
    return seen


def test_an_account_without_a_password_costs_one_argon2_verification_like_an_unknown_name(
    session: Session, staff: Staff, verifications: list[str]
) -> None:
    del staff  # the staff exist, none of them has a page password yet
    assert authenticate_password(session=session, name="督办员老李", password="guess-0123456789") is None
    assert verifications == ["dummy"]
    verifications.clear()
    assert authenticate_password(session=session, name="无此人", password="guess-0123456789") is None
    assert verifications == ["dummy"]


def test_a_wrong_password_is_checked_against_the_account_only(
    session: Session, staff: Staff, verifications: list[str]
) -> None:
    del staff
    user = session.exec(select(User).where(User.name == "督办员老李")).one()
    set_password(session=session, user=user, password="督办-correct-horse")
    session.commit()
    assert authenticate_password(session=session, name="督办员老李", password="wrong-password!") is None
    assert verifications == ["account"]
    assert authenticate_password(session=session, name="督办员老李", password="督办-correct-horse") == user

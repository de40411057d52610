"""The complaint tracking password: 12 symbols stored as a keyed HMAC, and the argon2 hashes of the
8-symbol passwords from before, which keep working."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlmodel import Session

from models.complaint import Complaint
from models.settings import get_settings
from models.tracking_password import (
    ALPHABET,
    SCHEME,
    hash_tracking_password,
    new_tracking_password,
    verify_tracking_password,
)
from tests.conftest import Staff
from tests.test_complaints_api import register

TRACK = "/api/v1/public/complaints/track"
GROUPED = re.compile(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}")


def test_new_passwords_are_12_unambiguous_symbols_shown_grouped_and_stored_as_hmac() -> None:
    seen = set()
    for _ in range(200):
        shown, stored = new_tracking_password()
        assert GROUPED.fullmatch(shown), shown
        assert not set(shown) & set("01OIL")
        assert stored.startswith(SCHEME)
        assert len(stored) == len(SCHEME) + 64
        assert shown.replace("-", "") not in stored
        seen.add(shown)
    assert len(seen) == 200


def test_any_spelling_of_the_password_verifies_and_nothing_else_does() -> None:
    shown, stored = new_tracking_password()
    plain = shown.replace("-", "")
    spaced = " ".join(shown.split("-"))
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in plain)  # typed with a Chinese IME
    for spelling in (shown, plain, plain.lower(), f"  {spaced} ", full_width):
        assert verify_tracking_password(spelling, stored), spelling
    wrong = ("B" if plain[0] == "A" else "A") + plain[1:]
    for spelling in (wrong, plain[:8], plain + "A", "", shown.replace("-", "_")[:-1]):
        assert not verify_tracking_password(spelling, stored), spelling
    assert not verify_tracking_password(shown, None)
    assert not verify_tracking_password(plain[:8], None)


def test_the_hmac_is_keyed_with_the_server_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    shown, stored = new_tracking_password()
    monkeypatch.setenv("SHOUXIN_SECRET_KEY", "another-installation-secret-0123456789")
    get_settings.cache_clear()
    try:
        assert hash_tracking_password(shown) != stored
        assert not verify_tracking_password(shown, stored)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert verify_tracking_password(shown, stored)


def test_tracking_accepts_the_password_without_dashes_and_in_lower_case(
    client: TestClient, staff: Staff
) -> None:
    created = register(client, staff)
    number, shown = created["number"], created["tracking_password"]
    for spelling in (shown, shown.replace("-", "").lower(), shown.replace("-", " ")):
        response = client.post(TRACK, json={"number": number, "password": spelling})
        assert response.status_code == 200, response.text
        assert response.json()["number"] == number


def test_a_complaint_from_the_argon2_era_still_verifies_and_keeps_its_argon2_hash(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = register(client, staff)
    complaint = session.get(Complaint, created["id"])
    assert complaint is not None
    # What registration stored before the HMAC scheme: 8 symbols under argon2id (OWASP profile).
    legacy = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1).hash("K7M2PQRT")
    complaint.tracking_password_hash = legacy
    session.add(complaint)
    session.commit()
    for spelling in ("K7M2PQRT", "k7m2pqrt", " K7M2-PQRT "):
        response = client.post(TRACK, json={"number": created["number"], "password": spelling})
        assert response.status_code == 200, response.text
    assert client.post(TRACK, json={"number": created["number"], "password": "K7M2PQRA"}).status_code == 404
    # The new password no longer applies, and the old hash is not downgraded to a fast one.
    wrong = client.post(TRACK, json={"number": created["number"], "password": created["tracking_password"]})
    assert wrong.status_code == 404
    session.expire_all()
    again = session.get(Complaint, created["id"])
    assert again is not None
    assert again.tracking_password_hash == legacy

"""The pledge access code (办理码): generation, storage as a keyed hash, registration and re-issue, and
that only its holder can upload evidence, object or request repair (issue 8: public data is no proof)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.lifecycle import BreachState
from models.outbox import Notification
from models.pledge import Pledge, PledgeEvidence
from models.pledges import access as pledge_access
from models.pledges.access import ALPHABET, digest, new_access_code, new_access_codes, normalise, verify
from models.settings import get_settings
from notifications.catalogue import TEMPLATES
from notifications.render import render
from tests.conftest import Staff
from tests.test_pledges import registered
from tests.test_publication import CODE, new_pledge
from tests.test_register import access_code, publish

API = "/api/v1"
PDF = b"%PDF-1.7 evidence"
SHAPE = re.compile(rf"^[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}$")


# ----------------------------------------------------------------------------------------- the code


def test_codes_are_grouped_unambiguous_and_stored_only_as_a_keyed_hash() -> None:
    code, stored = new_access_code()
    assert SHAPE.match(code)
    assert not set("01ILOilo") & set(code)
    assert re.fullmatch(r"[0-9a-f]{64}", stored)
    assert normalise(code) not in stored
    assert stored == digest(code)
    # Typed back any way: lower case, spaces instead of dashes, none at all, full-width from an IME.
    plain = normalise(code)
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in plain)
    for typed in (code, code.lower(), code.replace("-", " "), plain, f"  {plain}\n", full_width):
        assert verify(typed, stored), typed
    assert not verify(code[:-1] + ("A" if code[-1] != "A" else "B"), stored)
    assert not verify("", stored)
    assert not verify(code, None)  # a pledge registered before codes existed matches nothing


def test_the_digest_is_keyed_with_the_server_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    code, stored = new_access_code()
    monkeypatch.setenv("SHOUXIN_SECRET_KEY", "another-deployment-secret-0123456789")
    get_settings.cache_clear()
    try:
        assert digest(code) != stored
        assert not verify(code, stored)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def test_batch_codes_are_distinct_and_uniform() -> None:
    pairs = new_access_codes(100_000)
    codes = [c for c, _ in pairs]
    assert len(set(codes)) == len(codes) == 100_000
    assert all(SHAPE.match(c) for c in codes[:1000])
    assert all(verify(c, d) for c, d in pairs[:1000])
    counts = dict.fromkeys(ALPHABET, 0)
    for c in codes:
        for ch in normalise(c):
            counts[ch] += 1
    expected = 12 * 100_000 / len(ALPHABET)
    assert all(abs(n - expected) < 0.05 * expected for n in counts.values()), counts


@pytest.mark.parametrize("secret", ["short", "k" * 64, "长密钥" * 40])
def test_batch_codes_have_the_digests_a_single_code_gets(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    # Keys shorter than, as long as and longer than SHA-256's block; the batch copies one keyed HMAC state,
    # and each digest is the plain HMAC-SHA256 of purpose and code under the secret, as ``digest`` stores it.
    monkeypatch.setenv("SHOUXIN_SECRET_KEY", secret)
    get_settings.cache_clear()
    try:
        pairs = new_access_codes(50)
        assert len({code for code, _ in pairs}) == 50
        for code, stored in pairs:
            plain = normalise(code).encode()
            assert (
                stored
                == hmac.new(
                    secret.encode(), b"shouxin-pledge-access-code:" + plain, hashlib.sha256
                ).hexdigest()
            )
            assert stored == digest(code)
            assert verify(code, stored)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


# ----------------------------------------------------------------------------------- registration


def test_registration_returns_the_code_once_and_mails_it(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = registered(client, staff)
    code = created["access_code"]
    assert SHAPE.match(code)
    assert "access_code_digest" not in created
    again = client.get(f"{API}/pledges/{created['id']}", headers=staff.auth("handler")).json()
    assert "access_code" not in again
    assert "access_code_digest" not in again
    listed = client.get(f"{API}/pledges", headers=staff.auth("supervisor")).json()
    assert code not in json.dumps(listed)
    pledge = session.get(Pledge, created["id"])
    assert pledge is not None
    assert verify(code, pledge.access_code_digest)
    events = session.exec(select(CaseEvent).where(CaseEvent.case_kind == "pledge")).all()
    assert code not in json.dumps([e.data for e in events])
    mail = session.exec(select(Notification).where(Notification.template == "pledge_registered")).one()
    message = render("pledge_registered", mail.context)
    for part in (message.text, message.html):
        assert code in part
        assert "办理码" in part
        assert "异议" in part
        assert "信用修复" in part


def test_a_notice_queued_without_a_code_still_renders() -> None:
    # Rows queued before codes existed (or by an import that does not issue them) have no access_code.
    message = render("pledge_registered", TEMPLATES["pledge_registered"].sample)
    assert "办理码" not in message.text


# ------------------------------------------------------------------------------ guessing is limited


def test_wrong_codes_are_limited_per_pledge_across_objection_and_evidence(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    pledge = session.get(Pledge, breach.pledge_id)
    assert pledge is not None
    good = access_code(session, breach)
    objection = f"{API}/public/breaches/{breach.number}/objection"
    limit = get_settings().tracking_max_failures_per_case
    for n in range(limit):
        if n % 2:
            wrong = client.post(objection, json={"access_code": f"AAAA-BBBB-CC{n:02d}", "reason": "不服"})
        else:
            wrong = client.post(
                f"{API}/public/pledges/{pledge.number}/evidence",
                data={"access_code": "AAAA-BBBB-CCCC"},
                files={"file": ("a.pdf", PDF)},
            )
        assert wrong.status_code == 403, wrong.text
    locked = client.post(objection, json={"access_code": good, "reason": "不服"})
    assert locked.status_code == 429
    assert "该承诺办理码错误次数过多" in locked.json()["message"]
    assert "重新发放" in locked.json()["message"]
    assert int(locked.headers["Retry-After"]) > 0
    session.expire_all()
    assert session.get(PublishedBreach, breach.id).state == BreachState.PUBLISHED  # type: ignore[union-attr]


def test_probing_pledge_numbers_counts_against_the_address(
    client: TestClient, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_TRACKING_MAX_FAILURES_PER_IP", "3")
    get_settings.cache_clear()
    created = registered(client, staff)
    for n in range(3):
        r = client.post(
            f"{API}/public/pledges/CN-2026-{900000 + n}/evidence",
            data={"access_code": "AAAA-BBBB-CCCC"},
            files={"file": ("a.pdf", PDF)},
        )
        assert r.status_code == 404
    r = client.post(
        f"{API}/public/pledges/{created['number']}/evidence",
        data={"access_code": created["access_code"]},
        files={"file": ("a.pdf", PDF)},
    )
    assert r.status_code == 429
    assert "网络地址" in r.json()["message"]


# --------------------------------------------------------------------------------------- re-issue


def test_staff_reissue_a_code_audited_and_mailed_and_the_old_one_stops_working(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = registered(client, staff)
    pid, old = created["id"], created["access_code"]
    url = f"{API}/pledges/{pid}/access-code"
    assert client.post(url, json={}, headers=staff.auth("handler2")).status_code == 404
    assert client.post(url, json={}, headers=staff.auth("admin")).status_code == 403
    assert client.post(url, json={}).status_code == 401
    stale = client.post(url, json={"expected_version": 99}, headers=staff.auth("handler"))
    assert stale.status_code == 409
    r = client.post(url, json={"reason": "承诺人遗失告知书"}, headers=staff.auth("handler"))
    assert r.status_code == 200, r.text
    new = r.json()["access_code"]
    assert SHAPE.match(new)
    assert new != old
    assert r.json()["state"] == "registered"  # the event changes no state
    [event] = session.exec(select(CaseEvent).where(CaseEvent.event == "reissue_access_code")).all()
    assert (event.actor_role, event.note, event.from_state, event.to_state) == (
        "handler",
        "承诺人遗失告知书",
        "registered",
        "registered",
    )
    assert new not in json.dumps(event.data)
    assert old not in json.dumps(event.data)
    labels = [
        e["label"] for e in client.get(f"{API}/pledges/{pid}/events", headers=staff.auth("intake")).json()
    ]
    assert "重新发放办理码" in labels
    mail = session.exec(select(Notification).where(Notification.template == "pledge_access_code")).one()
    assert mail.recipient_email == "a@example.com"
    assert new in render("pledge_access_code", mail.context).text
    upload = f"{API}/public/pledges/{created['number']}/evidence"
    assert client.post(upload, data={"access_code": old}, files={"file": ("a.pdf", PDF)}).status_code == 403
    ok = client.post(upload, data={"access_code": new}, files={"file": ("a.pdf", PDF)})
    assert ok.status_code == 201, ok.text
    # Offered among the pledge's actions, and accepted through the generic action route as well.
    offered = client.get(f"{API}/pledges/{pid}/actions", headers=staff.auth("handler")).json()
    assert "reissue_access_code" in [a["event"] for a in offered]
    via_action = client.post(
        f"{API}/pledges/{pid}/actions/reissue_access_code", json={}, headers=staff.auth("handler")
    )
    assert via_action.status_code == 200, via_action.text
    stored = session.exec(select(Pledge.access_code_digest).where(Pledge.id == pid)).one()
    assert verify(via_action.json()["access_code"], stored)
    # Not once the pledge is closed: the pledgor has nothing left to do with it.
    client.post(f"{API}/pledges/{pid}/actions/confirm", json={}, headers=staff.auth("handler"))
    assert client.post(url, json={}, headers=staff.auth("handler")).status_code == 409


def test_a_pledge_from_before_codes_gets_one_from_staff(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    session.execute(update(Pledge).where(col(Pledge.id) == breach.pledge_id).values(access_code_digest=None))
    session.commit()
    objection = f"{API}/public/breaches/{breach.number}/objection"
    refused = client.post(objection, json={"access_code": access_code(session, breach), "reason": "不服"})
    assert refused.status_code == 403
    assert "尚未发放办理码" in refused.json()["message"]
    reissued = client.post(
        f"{API}/pledges/{breach.pledge_id}/access-code", json={}, headers=staff.auth("supervisor")
    )
    assert reissued.status_code == 200, reissued.text
    r = client.post(objection, json={"access_code": reissued.json()["access_code"], "reason": "不服"})
    assert r.status_code == 201, r.text


# ------------------------------------------------------------------------ records without a pledge


def test_a_record_not_from_a_pledge_cannot_be_acted_on_with_public_data(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    code = access_code(session, breach)
    session.execute(
        update(PublishedBreach)
        .where(col(PublishedBreach.id) == breach.id)
        .values(pledge_id=None, source_kind="complaint")
    )
    session.commit()
    for path, payload in (
        ("objection", {"access_code": code, "reason": "不服"}),
        ("repair", {"access_code": code, "statement": "已整改", "repair_pledge": "守信"}),
    ):
        r = client.post(f"{API}/public/breaches/{breach.number}/{path}", json=payload)
        assert r.status_code == 403
        assert "信用办" in r.json()["message"]
    assert session.exec(select(PledgeEvidence)).all() == []


# ------------------------------------------------------------------------------------ credit profile


def test_credit_profile_lists_kept_pledges(client: TestClient, session: Session, staff: Staff) -> None:
    kept = new_pledge(session, dt.date(2026, 4, 30))
    open_one = new_pledge(session, dt.date(2026, 5, 30))
    upload = client.post(
        f"{API}/pledges/{kept.id}/evidence", files={"file": ("a.pdf", PDF)}, headers=staff.auth("handler")
    )
    assert upload.status_code == 201, upload.text
    r = client.post(f"{API}/pledges/{kept.id}/actions/confirm", json={}, headers=staff.auth("handler"))
    assert r.json()["state"] == "fulfilled"
    profile = client.get(f"{API}/public/credit/{CODE}").json()
    assert profile["pledges"]["by_state"] == {"fulfilled": 1}
    assert [i["number"] for i in profile["pledges"]["items"]] == [kept.number]
    assert open_one.number not in json.dumps(profile)


def test_module_constants_give_enough_entropy() -> None:
    import math

    assert pledge_access.LENGTH * math.log2(len(ALPHABET)) > 59

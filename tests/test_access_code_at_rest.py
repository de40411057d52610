"""The access code is kept in clear only as long as a mail still has to carry it: once the message is
sent, when it fails for good (dead), or when there is no address to send it to (staff hand the code over
from the screen or the import report), the outbox row keeps no copy. Otherwise every code would sit in
the database and its backups. A dead row that lost its code is not re-sent: the code is re-issued."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.outbox import SECRET_CONTEXT_KEYS, SECRET_TEMPLATES, Notification, NotificationStatus
from models.pledges.import_jobs import run_import
from notifications.outbox_service import MAX_ATTEMPTS, mark_dead, mark_sent, mark_temporary_failure
from notifications.render import TEMPLATE_DIR
from tests.conftest import Staff
from tests.test_pledges import CSV, body, registered

API = "/api/v1"


def _mail(session: Session, number: str, template: str = "pledge_registered") -> Notification:
    session.expire_all()
    query = select(Notification).where(Notification.case_number == number, Notification.template == template)
    return session.exec(query).one()


NOW = dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC)


def test_the_registration_mail_drops_the_code_once_sent(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = registered(client, staff)
    mail = _mail(session, created["number"])
    assert mail.status == NotificationStatus.PENDING
    assert mail.context["access_code"] == created["access_code"]  # still needed to write the mail
    assert mail.id is not None
    mark_sent(session=session, notification_id=mail.id, now=dt.datetime(2026, 3, 2, 9, tzinfo=dt.UTC))
    session.commit()
    sent = _mail(session, created["number"])
    assert sent.status == NotificationStatus.SENT
    assert created["access_code"] not in json.dumps(sent.context)
    assert sent.context["pledge_number"] == created["number"]  # the rest of the record stays


def test_no_address_no_stored_code(client: TestClient, staff: Staff, session: Session) -> None:
    created = client.post(
        f"{API}/pledges", json=body(deadline="2026-04-30", pledgor_email=None), headers=staff.auth("intake")
    ).json()
    mail = _mail(session, created["number"])
    assert mail.status == NotificationStatus.UNDELIVERABLE
    assert created["access_code"] not in json.dumps(mail.context)


def test_imported_pledgors_without_address_have_no_stored_code(
    client: TestClient, engine: Engine, staff: Staff, session: Session
) -> None:
    files = {"file": ("承诺.csv", CSV.encode())}
    accepted = client.post(f"{API}/pledges/import", files=files, headers=staff.auth("supervisor"))
    assert accepted.status_code == 202
    run_import(engine=engine, import_id=accepted.json()["id"])  # what the import_pledges flow does
    report = client.get(f"{API}/pledges/imports/{accepted.json()['id']}", headers=staff.auth("supervisor"))
    [offline] = report.json()["offline_codes"]
    mail = _mail(session, offline["number"])
    assert mail.status == NotificationStatus.UNDELIVERABLE
    assert offline["access_code"] not in json.dumps(mail.context)


def _fail_for_good(session: Session, mail: Notification, how: str) -> None:
    assert mail.id is not None
    if how == "permanent":
        mark_dead(session=session, notification_id=mail.id, now=NOW, error="550 mailbox unavailable")
    else:
        for _ in range(MAX_ATTEMPTS):
            mark_temporary_failure(session=session, notification_id=mail.id, now=NOW, error="421 try later")
    session.commit()


@pytest.mark.parametrize("how", ["permanent", "out_of_attempts"])
def test_a_registration_mail_that_dies_drops_the_code(
    client: TestClient, staff: Staff, session: Session, how: str
) -> None:
    created = registered(client, staff)
    mail = _mail(session, created["number"])
    assert mail.context["access_code"] == created["access_code"]
    _fail_for_good(session, mail, how)
    dead = _mail(session, created["number"])
    assert dead.status == NotificationStatus.DEAD
    assert created["access_code"] not in json.dumps(dead.context)
    assert dead.context["pledge_number"] == created["number"]  # the rest of the record stays


def test_a_dead_mail_that_lost_its_code_is_not_resent_the_code_is_reissued(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = registered(client, staff)
    mail = _mail(session, created["number"])
    _fail_for_good(session, mail, "permanent")
    refused = client.post(f"{API}/admin/notifications/{mail.id}/retry", headers=staff.auth("admin"))
    assert refused.status_code == 409
    assert "重新发放办理码" in refused.text
    assert _mail(session, created["number"]).status == NotificationStatus.DEAD  # not queued without a code
    # What the message points to: a fresh code, in its own notice, queued to be sent.
    reissued = client.post(
        f"{API}/pledges/{created['id']}/access-code", json={}, headers=staff.auth("handler")
    )
    assert reissued.status_code == 200, reissued.text
    fresh = _mail(session, created["number"], "pledge_access_code")
    assert fresh.status == NotificationStatus.PENDING
    assert fresh.context["access_code"] == reissued.json()["access_code"] != created["access_code"]


def test_the_notices_queued_with_a_secret_are_the_templates_that_show_one() -> None:
    secret = re.compile(r"\b(" + "|".join(SECRET_CONTEXT_KEYS) + r")\b")
    showing = {
        path.name.split(".")[0]
        for path in Path(TEMPLATE_DIR).glob("*.j2")
        if not path.name.startswith("_") and secret.search(path.read_text(encoding="utf-8"))
    }
    assert showing == SECRET_TEMPLATES

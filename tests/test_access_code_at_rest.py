"""The access code is kept in clear only as long as a mail still has to carry it: once the message is
sent, or when there is no address to send it to (staff hand the code over from the screen or the import
report), the outbox row keeps no copy. Otherwise every code would sit in the database and its backups."""

from __future__ import annotations

import datetime as dt
import json

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.outbox import Notification, NotificationStatus
from models.pledges.import_jobs import run_import
from notifications.outbox_service import mark_sent
from tests.conftest import Staff
from tests.test_pledges import CSV, body

API = "/api/v1"


def _mail(session: Session, number: str) -> Notification:
    session.expire_all()
    return session.exec(select(Notification).where(Notification.case_number == number)).one()


def test_the_registration_mail_drops_the_code_once_sent(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = client.post(
        f"{API}/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake")
    ).json()
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

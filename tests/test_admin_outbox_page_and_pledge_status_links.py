"""What the outbox page and the public pledge-status page show: the outbox names each message by what it is
for (not its template key) and offers the admin-only outboxes to administrators only; the pledge-status
page links the pledge's breach record only while the register shows it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.breach import PublishedBreach
from models.lifecycle import BREACH, BreachState
from models.outbox import Notification, NotificationStatus
from models.pledge import Pledge
from notifications.catalogue import TEMPLATES
from tests.conftest import Staff
from tests.test_register import CODE, access_code, publish
from tests.web_support import post_form, sign_in

# The cell's text; its title keeps the key, which the API, the CLI and the logs name the message by.
TEMPLATE_CELL = re.compile(r'<td data-label="模板"[^>]*>([^<]*)</td>')
ADMIN_ONLY_OUTBOXES = ("/staff/admin/platform", "/staff/admin/hotline")


def _pending(session: Session, template: str, key: str) -> None:
    session.add(
        Notification(
            template=template,
            recipient_kind="complainant",
            recipient_name="示范公司",
            recipient_email="a@example.com",
            status=NotificationStatus.PENDING,
            idempotency_key=key,
        )
    )
    session.commit()


def test_outbox_names_each_message_by_its_purpose_and_an_unknown_template_by_its_key(
    client: TestClient, staff: Staff, session: Session
) -> None:
    _pending(session, "complaint_received", "outbox-page-known")
    _pending(session, "retired_notice", "outbox-page-unknown")  # e.g. a template since removed
    sign_in(client, staff.admin)
    cells = TEMPLATE_CELL.findall(client.get("/staff/admin/notifications").text)
    assert len(cells) == 2, cells
    assert TEMPLATES["complaint_received"].description in cells
    assert "complaint_received" not in cells
    assert "retired_notice" in cells


def test_outbox_links_the_admin_only_outboxes_for_administrators_only(
    client: TestClient, staff: Staff
) -> None:
    sign_in(client, staff.admin)
    page = client.get("/staff/admin/notifications").text
    for link in ADMIN_ONLY_OUTBOXES:
        assert f'href="{link}"' in page
        assert client.get(link).status_code == 200, link
    client.cookies.clear()
    sign_in(client, staff.supervisor)
    page = client.get("/staff/admin/notifications")
    assert page.status_code == 200
    for link in ADMIN_ONLY_OUTBOXES:
        assert f'href="{link}"' not in page.text  # the supervisor would be refused (403)
        assert client.get(link).status_code == 403, link


def _status_page(client: TestClient, session: Session, breach: PublishedBreach, code: str) -> str:
    pledge = session.get(Pledge, breach.pledge_id)
    assert pledge is not None
    page = post_form(
        client, "/pledges/status", {"number": pledge.number, "access_code": code}, page="/pledges/status"
    )
    assert page.status_code == 200, page.text
    return str(page.text)


@pytest.mark.usefixtures("staff")  # the departments the pledges name
@pytest.mark.parametrize(
    ("state", "days_past_end"),
    [
        (BreachState.REPAIRED, -30),
        (BreachState.WITHDRAWN, -30),
        (BreachState.PUBLISHED, 1),  # its publication period ended; the expire flow has not run yet
    ],
)
def test_pledge_status_links_the_breach_record_only_while_the_register_shows_it(
    client: TestClient,
    engine: Engine,
    session: Session,
    today: dt.date,
    state: BreachState,
    days_past_end: int,
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    code = access_code(session, breach)
    link = f'href="/register/{breach.number}"'
    assert link in _status_page(client, session, breach, code)
    assert client.get(f"/register/{breach.number}").status_code == 200

    breach.state = state
    breach.publication_end = today - dt.timedelta(days=days_past_end)
    session.add(breach)
    session.commit()
    assert client.get(f"/register/{breach.number}").status_code == 404
    page = _status_page(client, session, breach, code)
    assert link not in page
    facts = re.search(r"<dt>失信公示记录</dt><dd>([^<]*)</dd>", page)
    assert facts is not None, page
    # The number and its state, as plain text (a period that ended reads 公示期满 before the flow records it).
    shown_as = BreachState.EXPIRED if state == BreachState.PUBLISHED else state
    assert facts.group(1) == f"{breach.number}（{BREACH.state(shown_as).label}）"

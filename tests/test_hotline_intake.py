"""12345 work orders in: one case per order however often (and however concurrently) it is sent, and a
token of the hotline role that may call this endpoint and nothing else."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import models.hotline_intake as intake
from models.accounts import authenticate, create_machine_user, set_password
from models.audit import CaseEvent
from models.calendar import load_calendar
from models.complaint import Complaint
from models.errors import ValidationFailed
from models.hotline_intake import WorkOrder, register_work_order
from models.lifecycle import Role
from models.org import User
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_complaints_api import API
from tests.test_concurrency import _together, shared_engine  # noqa: F401 - the fixture
from tests.web_support import sign_in

# When the citizen called: yesterday at 09:12 Beijing time, so the order stays within the age an order may
# have (models/hotline_intake.py RECEIVED_AT_MAX_AGE) whenever the tests run.
RECEIVED_AT = dt.datetime.combine(
    dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1),
    dt.time(9, 12),
    tzinfo=dt.timezone(dt.timedelta(hours=8)),
)
ORDER: dict[str, Any] = {
    "order_id": "GD2026031600012",
    "channel": "phone",
    "received_at": RECEIVED_AT.isoformat(),
    "caller_name": "张先生",
    "caller_phone": "13900000002",
    "content": "某区住建局拖欠我公司道路工程尾款80万元，多次催要未果。",
    "category": "拖欠中小企业账款",
    "respondent_name": "某区住房和城乡建设局",
}


def new_hotline_token(session: Session) -> str:
    _, token = create_machine_user(session=session, name="12345热线平台", role=Role.HOTLINE)
    session.commit()
    return token


@pytest.fixture
def hotline_token(session: Session, staff: Staff) -> str:
    return new_hotline_token(session)


def post(client: TestClient, token: str, **overrides: Any) -> Any:
    return client.post(
        f"{API}/intake/work-orders", json={**ORDER, **overrides}, headers={"Authorization": f"Bearer {token}"}
    )


def test_an_order_registers_one_case_and_a_resend_answers_the_same_case(
    client: TestClient, session: Session, staff: Staff, hotline_token: str
) -> None:
    first = post(client, hotline_token)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["created"], body["source_system"], body["external_id"]) == (True, "12345", ORDER["order_id"])
    assert body["tracking_password"]
    assert first.headers["cache-control"] == "no-store"

    again = post(client, hotline_token)  # the same order again (a copy that differs: 409, another test)
    assert again.status_code == 200, again.text
    assert (again.json()["id"], again.json()["number"]) == (body["id"], body["number"])
    assert (again.json()["created"], again.json()["tracking_password"]) == (False, None)

    cases = session.exec(select(Complaint).where(Complaint.external_id == ORDER["order_id"])).all()
    assert len(cases) == 1
    case = cases[0]
    assert (case.channel, case.category, case.complainant_phone) == ("hotline", "sme_arrears", "13900000002")
    assert case.external_channel == "phone"
    assert case.external_received_at == RECEIVED_AT.astimezone(dt.UTC)
    # Staff read when the citizen called, in the API and on the case page (deadlines run from registration).
    shown = client.get(f"{API}/complaints/{case.id}", headers=staff.auth("intake")).json()
    assert (shown["external_channel"], shown["external_received_at"][:16]) == (
        "phone",
        RECEIVED_AT.astimezone(dt.UTC).isoformat()[:16],
    )
    sign_in(client, staff.intake)
    page = client.get(f"/staff/complaints/{case.id}").text
    assert f'<span id="external-received-at">{RECEIVED_AT.strftime("%Y-%m-%d %H:%M")}</span> 受理' in page
    assert case.description == ORDER["content"]
    event = session.exec(select(CaseEvent).where(CaseEvent.case_id == case.id)).one()
    assert (event.event, event.actor_role, event.data["external_id"]) == (
        "register",
        "hotline",
        ORDER["order_id"],
    )

    # Staff see where the case came from, in the API and on the case page.
    shown = client.get(f"{API}/complaints/{body['id']}", headers=staff.auth("supervisor")).json()
    assert (shown["source_system"], shown["external_id"]) == ("12345", ORDER["order_id"])

    sign_in(client, staff.supervisor)
    page = client.get(f"/staff/complaints/{body['id']}").text
    assert f'12345 工单 <span id="external-id">{ORDER["order_id"]}</span>' in page


def test_a_case_registered_by_staff_has_no_external_order(client: TestClient, staff: Staff) -> None:
    from tests.test_complaints_api import register

    case = register(client, staff)
    assert (case["source_system"], case["external_id"]) == (None, None)


def test_only_the_hotline_token_hands_in_orders_and_it_can_do_nothing_else(
    client: TestClient, staff: Staff, hotline_token: str
) -> None:
    assert client.post(f"{API}/intake/work-orders", json=ORDER).status_code == 401
    for who in ("intake", "supervisor", "admin", "handler"):
        assert post(client, getattr(staff, who)).status_code == 403, who
    schema = client.get("/openapi.json").json()
    others = [
        (method, path)
        for path, ops in schema["paths"].items()
        for method in ops
        # Its own endpoints: the orders, and what it forwards on them (tests/test_what_12345_forwards_…).
        if path not in (f"{API}/intake/work-orders", f"{API}/intake/work-orders/{{order_id}}/follow-ups")
        and not path.startswith(f"{API}/public")
        and path != f"{API}/health"
    ]
    assert others
    headers = {"Authorization": f"Bearer {hotline_token}"}
    for method, path in others:
        url = path.replace("{", "").replace("}", "")  # any value: refused before a lookup
        status = client.request(method.upper(), url, headers=headers, json={}).status_code
        assert status in (403, 422), f"{method.upper()} {path}: {status}"


def test_a_hotline_account_never_signs_in_to_the_pages(
    session: Session, staff: Staff, hotline_token: str
) -> None:
    assert authenticate(session=session, token=hotline_token) is None
    account = session.exec(select(User).where(User.role == Role.HOTLINE)).one()
    with pytest.raises(ValidationFailed):
        set_password(session=session, user=account, password="a-long-enough-password")


def test_an_order_is_validated_before_anything_is_registered(
    client: TestClient, session: Session, hotline_token: str
) -> None:
    assert post(client, hotline_token, received_at="2026-03-16T09:12:00").status_code == 422  # no zone
    assert post(client, hotline_token, order_id="含空格 的编号").status_code == 422
    assert post(client, hotline_token, category="不存在的类别").status_code == 422
    assert session.exec(select(Complaint)).all() == []


def test_a_copy_that_loses_the_race_answers_the_winners_case(
    engine: Engine, session: Session, staff: Staff, hotline_token: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy checked for the order before the other copy committed: the unique constraint decides."""
    actor = Actor(name="12345热线平台", role=Role.HOTLINE)
    order = WorkOrder.model_validate(ORDER)
    today = dt.date(2026, 3, 16)
    with Session(engine, expire_on_commit=False) as other:
        winner, _ = register_work_order(
            session=other, order=order, actor=actor, today=today, calendar=load_calendar(session=other)
        )
        other.commit()
    real = intake.case_of_order
    checks: list[str] = []

    def stale_first_check(*, session: Session, order_id: str) -> Complaint | None:
        checks.append(order_id)
        return None if len(checks) == 1 else real(session=session, order_id=order_id)

    monkeypatch.setattr(intake, "case_of_order", stale_first_check)
    case, password = register_work_order(
        session=session, order=order, actor=actor, today=today, calendar=load_calendar(session=session)
    )
    session.commit()
    assert (case.id, password, len(checks)) == (winner.id, None, 2)
    assert len(session.exec(select(Complaint.id)).all()) == 1


def test_concurrent_copies_of_an_order_register_one_case(shared_engine: Engine) -> None:  # noqa: F811
    n = 4
    order = WorkOrder.model_validate(ORDER)
    actor = Actor(name="12345热线平台", role=Role.HOTLINE)
    results: dict[int, tuple[int | None, bool]] = {}

    def send(i: int) -> None:
        with Session(shared_engine, expire_on_commit=False) as session:
            calendar = load_calendar(session=session)
            case, password = register_work_order(
                session=session, order=order, actor=actor, today=dt.date(2026, 3, 16), calendar=calendar
            )
            session.commit()
            results[i] = (case.id, password is not None)

    _together(n, send)
    assert len({case_id for case_id, _ in results.values()}) == 1
    assert sum(created for _, created in results.values()) == 1
    with Session(shared_engine) as session:
        assert len(session.exec(select(col(Complaint.id))).all()) == 1


def test_the_order_schema_lists_the_category_names_the_platform_may_send(client: TestClient) -> None:
    # A client validating its orders against /openapi.json must accept the documented Chinese names.
    schema = client.get("/openapi.json").json()["components"]["schemas"]["WorkOrder"]
    categories = schema["properties"]["category"]["enum"]
    assert {"sme_arrears", "拖欠中小企业账款", "other", "其他"} <= set(categories)

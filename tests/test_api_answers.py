"""The API's answers: declared models that carry every field the services shape, and malformed bodies
refused as invalid input (never a 500)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from api.schemas import (
    BreachRecord,
    CreditProfile,
    DepartmentCreditRecord,
    GovernmentBreach,
    PledgeEventView,
    PledgeView,
    ProfilePledge,
    StaffBreach,
)
from models.complaint import Complaint
from notifications.sink import SinkMessage
from tests.conftest import TODAY, Staff
from tests.test_complaints_api import API
from tests.test_government_credit import confirmed
from tests.test_pledges import body
from tests.test_register import CODE, publish

DEPTH = 100_000  # far past the recursion limit: the parser gives up long before the end


def fields(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


def deeply_nested(kind: str) -> bytes:
    if kind == "array":
        return b"[" * DEPTH + b"]" * DEPTH
    return b'{"summary":' + b'{"a":' * DEPTH + b"1" + b"}" * DEPTH + b"}"


@pytest.mark.parametrize("kind", ["array", "object"])
def test_a_body_nested_too_deeply_is_refused_as_invalid_input(
    client: TestClient, staff: Staff, session: Session, kind: str
) -> None:
    json_type = {"content-type": "application/json"}
    targets = [
        (f"{API}/complaints", {}),  # before authentication, as for any body that is not JSON
        (f"{API}/complaints", staff.auth("intake")),
        (f"{API}/complaints/1/actions/accept", staff.auth("intake")),
        (f"{API}/pledges", staff.auth("intake")),
        (f"{API}/public/complaints/track", {}),
        (f"{API}/admin/departments", staff.auth("admin")),
    ]
    for path, auth in targets:
        response = client.post(path, content=deeply_nested(kind), headers={**auth, **json_type})
        assert response.status_code == 422, (path, response.text)
        answer = response.json()
        assert answer["error"] == "ValidationError"
        assert "嵌套层数过深" in answer["message"]
    assert session.exec(select(func.count()).select_from(Complaint)).one() == 0


def test_other_framework_refusals_keep_their_answers(client: TestClient, staff: Staff) -> None:
    missing = client.get(f"{API}/no-such-page", headers=staff.auth("intake"))
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    wrong_method = client.delete(f"{API}/tasks", headers=staff.auth("intake"))
    assert (wrong_method.status_code, wrong_method.json()) == (405, {"detail": "Method Not Allowed"})
    bad_json = client.post(
        f"{API}/complaints",
        content=b"{not json",
        headers={**staff.auth("intake"), "content-type": "application/json"},
    )
    assert bad_json.status_code == 422
    assert bad_json.json()["fields"][0]["type"] == "json_invalid"
    assert bad_json.json()["fields"][0]["field"] == ""  # not the byte offset it was found at
    assert "请求体不是有效的 JSON（第" in bad_json.json()["message"]


def test_pledge_answers_carry_every_field_the_service_shapes(client: TestClient, staff: Staff) -> None:
    from models.calendar import load_calendar
    from models.pledge import Pledge
    from models.pledges import pledge_view

    created = client.post(f"{API}/pledges", json=body(), headers=staff.auth("intake"))
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    shown = client.get(f"{API}/pledges/{pid}", headers=staff.auth("handler")).json()
    engine: Any = client.app.state.engine  # type: ignore[attr-defined]
    with Session(engine) as session:
        pledge = session.get(Pledge, pid)
        assert pledge is not None
        shaped = pledge_view(pledge, load_calendar(session=session))
    assert set(shaped) == fields(PledgeView) == set(shown)
    assert set(created.json()) == set(shown) | {"access_code"}
    [event] = client.get(f"{API}/pledges/{pid}/events", headers=staff.auth("handler")).json()
    assert set(event) == fields(PledgeEventView)
    # The chain's internals stay out of the answer.
    assert not {"hash", "prev_hash", "idempotency_key", "case_kind", "case_id"} & set(event)


def test_breach_answers_carry_every_field_the_register_shapes(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    from models.register import credit_profile, department_names, public_fields

    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    assert set(public_fields(breach, department_names(session))) == fields(BreachRecord)
    [staff_item] = client.get(f"{API}/breaches", headers=staff.auth("handler")).json()
    assert set(staff_item) == fields(StaffBreach)
    profile = credit_profile(session=session, credit_code=CODE, today=TODAY)
    assert set(profile) == fields(CreditProfile)
    assert [set(item) for item in profile["pledges"]["items"]] == [fields(ProfilePledge)]
    shown = client.get(f"{API}/public/credit/{CODE}").json()
    assert set(shown) == fields(CreditProfile)
    assert [set(r) for r in shown["records"]] == [fields(BreachRecord)]


def test_government_credit_answers_carry_every_field(
    client: TestClient, staff: Staff, session: Session
) -> None:
    from models.government_credit import department_record, public_government_breaches
    from models.lifecycle import Role
    from models.workflow import Actor

    confirmed(client, staff)
    record = client.get(f"{API}/departments/D01/credit-record", headers=staff.auth("supervisor")).json()
    shaped = department_record(session=session, code="D01", actor=Actor(name="督办", role=Role.SUPERVISOR))
    assert set(shaped) == fields(DepartmentCreditRecord) == set(record)
    assert record["records"] == shaped["records"]
    [item] = public_government_breaches(session=session, today=TODAY)
    assert set(item) == fields(GovernmentBreach)
    assert client.get(f"{API}/public/government-breaches").json() == {"items": [item]}


def test_mail_sink_lists_sender_and_recipients(client: TestClient, staff: Staff, session: Session) -> None:
    session.add(SinkMessage(mail_from="a@example.com", rcpt_tos=["b@example.com"], subject="主题", raw="x"))
    session.commit()
    [message] = client.get(f"{API}/admin/mail-sink", headers=staff.auth("admin")).json()
    assert set(message) == {"id", "received_at", "from", "to", "subject", "message_id"}
    assert (message["from"], message["to"], message["subject"]) == (
        "a@example.com",
        ["b@example.com"],
        "主题",
    )

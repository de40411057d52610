"""The deciding department's breach decisions: what it reads (the subject's request and evidence) and the
typed correction of a record (issue 16, item 5: only the correctable fields, each within its column)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.breach import PublishedBreach
from models.calendar import load_calendar
from models.errors import ValidationFailed
from models.lifecycle import BreachState, Role
from models.register import decide
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import access_code, publish

API = "/api/v1"


def objected(client: TestClient, engine: Engine, session: Session) -> PublishedBreach:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    r = client.post(
        f"{API}/public/breaches/{breach.number}/objection",
        json={
            "access_code": access_code(session, breach),
            "reason": "已按期提交材料",
            "evidence": "快递单号 SF123",
        },
    )
    assert r.status_code == 201, r.text
    return breach


def correct(client: TestClient, staff: Staff, breach: PublishedBreach, corrected: object) -> tuple[int, dict]:
    r = client.post(
        f"{API}/breaches/{breach.id}/actions/uphold_correct",
        json={"reason": "异议成立", "corrected": corrected},
        headers=staff.auth("handler"),
    )
    return r.status_code, r.json()


def stored(session: Session, breach: PublishedBreach) -> PublishedBreach:
    session.expire_all()
    record = session.get(PublishedBreach, breach.id)
    assert record is not None
    return record


def test_the_staff_list_shows_the_objection_being_decided_with_its_evidence_and_deadline(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    breach = objected(client, engine, session)
    [item] = client.get(f"{API}/breaches", headers=staff.auth("handler")).json()
    assert (item["request_kind"], item["request_reason"], item["request_evidence"]) == (
        "objection",
        "已按期提交材料",
        "快递单号 SF123",
    )
    assert item["stage_deadline"] == "2026-03-09"  # 5 working days to reply
    assert item["pledge_id"] == breach.pledge_id
    assert item["evidence_files"] == []
    # Another department's handler does not see the record at all.
    assert client.get(f"{API}/breaches", headers=staff.auth("handler2")).json() == []


def test_a_correction_naming_an_unknown_field_is_refused_with_its_name(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    breach = objected(client, engine, session)
    status, answer = correct(client, staff, breach, {"facts": "更正后的事实", "subject_name": "别人"})
    assert status == 422
    assert [f["field"] for f in answer["fields"]] == ["corrected.subject_name"]
    assert stored(session, breach).state == BreachState.UNDER_OBJECTION


def test_a_nested_object_never_becomes_the_public_text(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    breach = objected(client, engine, session)
    status, answer = correct(client, staff, breach, {"matter": {"a": [1, 2]}})
    assert status == 422
    assert [f["field"] for f in answer["fields"]] == ["corrected.matter"]
    assert "{'a'" not in stored(session, breach).matter


def test_a_correction_longer_than_its_column_is_refused_on_every_backend(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    breach = objected(client, engine, session)
    status, answer = correct(client, staff, breach, {"facts": "字" * 100_000})
    assert status == 422
    assert [f["field"] for f in answer["fields"]] == ["corrected.facts"]
    assert len(stored(session, breach).facts) <= 2000


def test_a_typed_correction_changes_only_the_fields_given(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    breach = objected(client, engine, session)
    before = stored(session, breach)
    matter, basis = before.matter, before.basis
    status, answer = correct(
        client, staff, breach, {"facts": "逾期补交（更正）", "severity": "minor", "basis": ""}
    )
    assert status == 200, answer
    after = stored(session, breach)
    assert (after.facts, after.severity, after.matter, after.basis) == (
        "逾期补交（更正）",
        "minor",
        matter,
        basis,
    )
    assert answer["severity_label"] == "轻微"


def test_a_service_caller_is_held_to_the_same_correction_rules(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    breach = objected(client, engine, session)
    assert breach.id is not None
    with pytest.raises(ValidationFailed) as refused:
        decide(
            session=session,
            breach_id=breach.id,
            action="uphold_correct",
            actor=Actor(name="督办", role=Role.SUPERVISOR),
            reason="异议成立",
            today=stored(session, breach).decision_date,
            calendar=load_calendar(session=session),
            corrected={"basis": "依据" * 300, "colour": "red"},
        )
    session.rollback()
    assert [f["field"] for f in refused.value.details["fields"]] == ["corrected.basis", "corrected.colour"]
    assert stored(session, breach).state == BreachState.UNDER_OBJECTION

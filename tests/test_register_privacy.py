"""Personal data typed into a register record's text by staff stays out of what the public and the credit
platform get: the complainant's name in a government record's facts (its subject is the department, so
masking the subject's name does not cover it), and contact data in the text of a correction document."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.breach import PublishedBreach
from models.government_credit_record import GovernmentCreditRecord
from models.platform import PlatformDocument
from tests.conftest import Staff
from tests.test_complaints_api import API, register
from tests.test_government_breach_register import NAME, SUMMARY, _confirm_with
from tests.test_publication import CODE
from tests.test_register import access_code, publish

PHONE, ID_NUMBER = "13912345678", "110101199003071234"
MASKED_NAME, MASKED_PHONE, MASKED_ID = "王*明", "139****5678", "110101********1234"


def _government_record(client: TestClient, staff: Staff, session: Session, reason: str) -> PublishedBreach:
    overrides = {"complainant_name": NAME, "complainant_credit_code": None, "summary": SUMMARY}
    _confirm_with(client, staff, register(client, staff, **overrides)["id"], public_text=None, reason=reason)
    session.expire_all()
    [record] = session.exec(select(PublishedBreach)).all()
    return record


def _public_outputs(client: TestClient, number: str) -> dict[str, str]:
    return {
        "government list": client.get(f"{API}/public/government-breaches").text,
        "register API": client.get(f"{API}/public/breaches").text,
        "record API": client.get(f"{API}/public/breaches/{number}").text,
        "csv export": client.get(f"{API}/public/breaches/export?format=csv").text,
        "record page": client.get(f"/register/{number}").text,
    }


def _documents(session: Session, kind: str) -> list[dict[str, Any]]:
    session.expire_all()
    rows = session.exec(select(PlatformDocument).order_by(col(PlatformDocument.id))).all()
    return [d.payload for d in rows if str(d.kind) == kind]


def test_complainant_name_in_the_confirm_reason_is_masked_wherever_the_facts_are_shown(
    client: TestClient, staff: Staff, session: Session
) -> None:
    record = _government_record(
        client, staff, session, reason=f"{NAME}反映的工程款至今未付（{PHONE}），拒不整改"
    )
    outputs = _public_outputs(client, record.number)
    [published] = _documents(session, "publish")
    outputs["platform publish"] = json.dumps(published, ensure_ascii=False)
    leaks = [where for where, text in outputs.items() if NAME in text or PHONE in text]
    assert leaks == []
    # Masked, not dropped: the facts are still published.
    assert f"{MASKED_NAME}反映的工程款至今未付（{MASKED_PHONE}）" in outputs["government list"]
    # Stored masked, in the register and the department's own record alike.
    [own] = session.exec(select(GovernmentCreditRecord)).all()
    assert [NAME in record.facts, NAME in own.facts] == [False, False]


def test_correcting_a_government_record_masks_the_complainant_name_in_the_new_text(
    client: TestClient, staff: Staff, session: Session
) -> None:
    record = _government_record(client, staff, session, reason="期限届满仍拒不整改")
    filed = client.post(
        f"{API}/government-breaches/{record.number}/objection",
        json={"reason": "事实表述有误", "document_reference": "住建函〔2026〕12号"},
        headers=staff.auth("supervisor"),
    )
    assert filed.status_code == 200, filed.text
    facts = f"经责令整改，拒不支付{NAME}（{PHONE}）的工程款"
    decided = client.post(
        f"{API}/breaches/{record.id}/actions/uphold_correct",
        json={"reason": "更正失信行为", "corrected": {"facts": facts, "matter": f"拖欠{NAME}工程款"}},
        headers=staff.auth("supervisor"),
    )
    assert decided.status_code == 200, decided.text
    outputs = _public_outputs(client, record.number)
    [correct] = _documents(session, "correct")
    outputs["platform correct"] = json.dumps(correct, ensure_ascii=False)
    leaks = [where for where, text in outputs.items() if NAME in text or PHONE in text]
    assert leaks == []
    assert f"经责令整改，拒不支付{MASKED_NAME}（{MASKED_PHONE}）的工程款" in outputs["government list"]
    assert correct["record"]["corrections"]["after"]["matter"] == f"拖欠{MASKED_NAME}工程款"
    session.expire_all()
    stored = session.get(PublishedBreach, record.id)
    assert stored is not None
    assert (stored.matter, stored.facts) == (f"拖欠{MASKED_NAME}工程款", correct["record"]["facts"])


def test_correction_document_sends_the_text_before_and_after_through_the_publication_filter(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    before = breach.facts
    objected = client.post(
        f"{API}/public/breaches/{breach.number}/objection",
        json={"access_code": access_code(session, breach), "reason": "事实有误"},
    )
    assert objected.status_code == 201, objected.text
    facts = f"逾期未补交施工图审查合格书（联系人手机{PHONE}，身份证{ID_NUMBER}）"
    decided = client.post(
        f"{API}/breaches/{breach.id}/actions/uphold_correct",
        json={"reason": "更正", "corrected": {"facts": facts, "severity": "minor"}},
        headers=staff.auth("handler"),
    )
    assert decided.status_code == 200, decided.text
    public = client.get(f"{API}/public/breaches/{breach.number}").text
    [correct] = _documents(session, "correct")
    shown = {"public record": public, "platform correct": json.dumps(correct, ensure_ascii=False)}
    leaks = [where for where, text in shown.items() if PHONE in text or ID_NUMBER in text]
    assert leaks == []
    corrections = correct["record"]["corrections"]
    assert corrections["after"] == {
        "facts": f"逾期未补交施工图审查合格书（联系人手机{MASKED_PHONE}，身份证{MASKED_ID}）",
        "severity": "minor",
    }
    assert corrections["before"] == {"facts": before, "severity": "general"}  # nothing to mask in it

"""A record of class 轻微 is in force but not published (RULEBOOK, publication §1): its subject still objects
and asks for repair on the public forms, which answer anyone who merely knows the number as they answer a
number that does not exist; the pledgor's status page links those forms; the refusal of
late evidence and the staff scorecard do not call the record published."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import scorecard
from models.breach import PublishedBreach
from models.clock import Clock
from models.errors import TransitionNotAllowed
from models.lifecycle import BreachState
from models.pledge import Pledge
from models.pledges.self_service import check_pledgor_may_submit
from models.scorecard import Period
from models.scorecard_pledges import pledge_scores
from tests.conftest import TODAY, Staff
from tests.test_minor_records_are_not_published import _corrected_to_minor
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import post_form

SUBJECT = "示范建设有限公司"
FEBRUARY = Period("month", dt.date(2026, 2, 1), dt.date(2026, 2, 28))  # the records' decision month


def _minor(client: TestClient, engine: Engine, session: Session, staff: Staff) -> PublishedBreach:
    [breach] = publish(engine, session, (SUBJECT, CODE))
    _corrected_to_minor(client, session, staff, breach)
    session.expire_all()
    record = session.get(PublishedBreach, breach.id)
    assert record is not None
    assert (record.severity, record.state) == ("minor", BreachState.PUBLISHED)
    return record


def _state(session: Session, record: PublishedBreach) -> str:
    session.expire_all()
    fresh = session.get(PublishedBreach, record.id)
    assert fresh is not None
    return fresh.state


@pytest.mark.parametrize("form", ["objection", "repair"])
def test_a_minor_records_form_is_the_same_page_as_an_unknown_numbers(
    client: TestClient, engine: Engine, session: Session, staff: Staff, form: str
) -> None:
    record = _minor(client, engine, session, staff)
    unknown = record.number[:-1] + ("9" if record.number[-1] != "9" else "8")
    page = client.get(f"/register/{record.number}/{form}")
    other = client.get(f"/register/{unknown}/{form}")
    assert (page.status_code, other.status_code) == (200, 200)
    # Nothing but the number typed tells the two apart: not the class, the dates or the source.
    assert page.text.replace(record.number, "N") == other.text.replace(unknown, "N")
    assert "办理码" in page.text
    for detail in (SUBJECT, CODE, record.matter, record.facts, "轻微失信记录，依规不予公示"):
        assert detail not in page.text
    # Its register page stays unknown to the public.
    assert client.get(f"/register/{record.number}").status_code == 404


@pytest.mark.parametrize("form", ["objection", "repair"])
def test_a_wrong_code_on_a_minor_record_is_answered_as_on_an_unknown_number(
    client: TestClient, engine: Engine, session: Session, staff: Staff, form: str
) -> None:
    record = _minor(client, engine, session, staff)
    unknown = record.number[:-1] + ("9" if record.number[-1] != "9" else "8")
    body = {
        "access_code": "AAAA-BBBB-CCCC",
        "reason": "事实有出入",
        "statement": "已补交材料",
        "repair_pledge": "今后按期履约",
    }
    answers = [post_form(client, f"/register/{n}/{form}", body) for n in (record.number, unknown)]
    assert [a.status_code for a in answers] == [403, 403]
    texts = [a.text.replace(n, "N") for a, n in zip(answers, (record.number, unknown), strict=True)]
    assert texts[0] == texts[1]
    assert "公示记录编号或办理码不正确" in texts[0]
    # The API's answer is the same sentence for both.
    api = [
        client.post(
            f"/api/v1/public/breaches/{n}/objection",
            json={"access_code": "AAAA-BBBB-CCCC", "reason": "事实有出入"},
        )
        for n in (record.number, unknown)
    ]
    assert [a.status_code for a in api] == [403, 403]
    assert api[0].json() == api[1].json()
    assert "公示记录编号或办理码不正确" in api[0].text


def test_the_subject_objects_to_a_minor_record_on_the_page(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    record = _minor(client, engine, session, staff)
    path = f"/register/{record.number}/objection"
    wrong = post_form(client, path, {"access_code": "AAAA-BBBB-CCCC", "reason": "事实有出入"})
    assert wrong.status_code == 403
    assert "公示记录编号或办理码不正确" in wrong.text
    assert SUBJECT not in wrong.text
    body = {"access_code": access_code(session, record), "reason": "事实有出入", "evidence": "付款凭证"}
    lodged = post_form(client, path, body)
    assert lodged.status_code == 303, lodged.text
    # Not to the record's page, which answers 404 for a record not published.
    assert lodged.headers["location"] == f"{path}?sent=1"
    assert _state(session, record) == BreachState.UNDER_OBJECTION
    assert "异议已提交" in client.get(lodged.headers["location"]).text


def test_the_subject_asks_for_repair_of_a_minor_record_on_the_page(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    record = _minor(client, engine, session, staff)
    assert record.repair_earliest <= TODAY  # 轻微: no minimum period by default
    path = f"/register/{record.number}/repair"
    body = {
        "access_code": access_code(session, record),
        "statement": "已补交材料",
        "repair_pledge": "今后按期履约",
    }
    asked = post_form(client, path, body)
    assert asked.status_code == 303, asked.text
    assert asked.headers["location"] == f"{path}?sent=1"
    assert _state(session, record) == BreachState.REPAIR_REQUESTED
    assert "信用修复申请已提交" in client.get(asked.headers["location"]).text


def test_the_pledgors_status_page_links_the_forms_of_a_minor_record(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    record = _minor(client, engine, session, staff)
    pledge = session.get(Pledge, record.pledge_id)
    assert pledge is not None
    page = post_form(
        client, "/pledges/status", {"number": pledge.number, "access_code": access_code(session, record)}
    )
    assert page.status_code == 200
    assert f'href="/register/{record.number}/objection"' in page.text
    assert f'href="/register/{record.number}/repair"' in page.text
    assert f'href="/register/{record.number}"' not in page.text
    assert "已公示失信" not in page.text
    assert "轻微失信" in page.text


def test_late_evidence_on_a_minor_record_is_refused_without_calling_it_published(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    record = _minor(client, engine, session, staff)
    pledge = session.get(Pledge, record.pledge_id)
    assert pledge is not None
    with pytest.raises(TransitionNotAllowed) as refused:
        check_pledgor_may_submit(session=session, pledge=pledge, today=TODAY)
    assert "轻微失信记录、依规不予公示" in refused.value.message
    assert "已公示" not in refused.value.message


def test_the_scorecard_does_not_count_a_minor_record_as_published(
    client: TestClient, engine: Engine, session: Session, staff: Staff, clock: Clock
) -> None:
    _minor(client, engine, session, staff)
    [row] = pledge_scores(session=session, period=FEBRUARY)
    assert (row.published, row.broken) == (0, 1)
    months = scorecard.breaches_per_month(session=session, clock=clock, today=TODAY, months=2)
    assert months == [("2026-02", 0, 0), ("2026-03", 0, 0)]


def test_a_pledges_exhausted_status_limit_does_not_tell_its_minor_record_apart(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    record = _minor(client, engine, session, staff)
    pledge = session.get(Pledge, record.pledge_id)
    assert pledge is not None
    unknown = record.number[:-1] + ("9" if record.number[-1] != "9" else "8")
    # Pledge numbers are public: anyone may spend the pledge's wrong-code limit on its status page.
    for _ in range(6):
        client.post(f"/api/v1/public/pledges/{pledge.number}/status", json={"access_code": "AAAA-BBBB-CCCC"})
    body = {"access_code": "AAAA-BBBB-CCCC", "reason": "事实有出入"}
    answers = [
        client.post(f"/api/v1/public/breaches/{n}/objection", json=body) for n in (record.number, unknown)
    ]
    assert [a.status_code for a in answers] == [403, 403]
    assert answers[0].json() == answers[1].json()


def test_a_reissued_code_opens_a_minor_records_form_its_old_guesses_locked(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    record = _minor(client, engine, session, staff)
    path = f"/register/{record.number}/objection"
    answers = [
        post_form(client, path, {"access_code": "AAAA-BBBB-CCCC", "reason": "事实有出入"}).status_code
        for _ in range(7)
    ]
    assert answers[-1] == 429  # the lock the refusal tells the pledgor to lift with a new code
    reissued = client.post(
        f"/api/v1/pledges/{record.pledge_id}/access-code",
        json={"reason": "遗失"},
        headers=staff.auth("handler"),
    )
    assert reissued.status_code == 200, reissued.text
    lodged = post_form(client, path, {"access_code": reissued.json()["access_code"], "reason": "事实有出入"})
    assert lodged.status_code == 303, lodged.text

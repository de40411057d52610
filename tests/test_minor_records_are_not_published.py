"""RULEBOOK publication §1: a record of class 轻微 is in principle not published. It is kept for its period
(its subject's objection and repair, staff, the bar a false pledge's record keeps) but no public view shows
it and the credit platform is never told to: a record created as 轻微 gets no PUBLISH, one the platform
shows that an upheld objection corrects to 轻微 gets one WITHDRAW, and its subject is told so."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.breach import PublishedBreach, Severity
from models.calendar import WorkCalendar, load_calendar
from models.lifecycle import BreachState, Role
from models.outbox import Notification
from models.platform import DocumentStatus, PlatformDocument
from models.register import count_shown, decide
from models.register.government_feed import follow_minor_records
from models.workflow import Actor
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaints_api import API
from tests.test_department_retired import add_department, pinned, retire  # noqa: F401
from tests.test_false_pledge_is_recorded_and_repairable import _found_false, single_refusal
from tests.test_government_credit import confirmed
from tests.test_platform_documents import correct, objected, subject_files
from tests.test_publication import CODE
from tests.test_register import access_code, publish


def _documents(session: Session) -> list[tuple[str, str]]:
    session.expire_all()
    rows = session.exec(select(PlatformDocument).order_by(col(PlatformDocument.id))).all()
    return [(str(d.kind), d.document_id) for d in rows]


def _corrected_to_minor(client: TestClient, session: Session, staff: Staff, breach: PublishedBreach) -> None:
    body = {"access_code": access_code(session, breach), "reason": "逾期情节轻微"}
    assert client.post(f"{API}/public/breaches/{breach.number}/objection", json=body).status_code == 201
    r = client.post(
        f"{API}/breaches/{breach.id}/actions/uphold_correct",
        json={"reason": "情节轻微，更正", "corrected": {"severity": "minor"}},
        headers=staff.auth("handler"),
    )
    assert r.status_code == 200, r.text


def test_a_record_corrected_to_minor_leaves_every_public_view_but_staff_still_see_it(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    _corrected_to_minor(client, session, staff, breach)
    assert client.get(f"{API}/public/breaches").json()["items"] == []
    assert client.get(f"{API}/public/breaches/{breach.number}").status_code == 404
    assert client.get(f"{API}/public/credit/{CODE}").json()["records"] == []
    assert breach.number not in client.get(f"{API}/public/breaches/export").text
    assert client.get(f"/register/{breach.number}").status_code == 404
    staff_list = client.get(f"{API}/breaches", headers=staff.auth("handler")).json()
    assert [(b["record_number"], b["severity"]) for b in staff_list] == [(breach.number, "minor")]


def test_a_shown_record_corrected_to_minor_is_withdrawn_from_the_platform_with_its_reason(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    _corrected_to_minor(client, session, staff, breach)
    session.expire_all()
    version = session.get(PublishedBreach, breach.id).version  # type: ignore[union-attr]
    n = breach.number
    assert _documents(session) == [
        ("publish", f"{n}:publish"),
        ("correct", f"{n}:correct:{version}"),
        ("withdraw", f"{n}:withdraw:minor:1"),
    ]
    withdraw = session.exec(select(PlatformDocument).where(PlatformDocument.kind == "withdraw")).one()
    assert "轻微" in withdraw.payload["reason"]
    assert withdraw.payload["record"]["severity"] == "minor"


def test_the_subject_is_told_a_record_corrected_to_minor_is_not_published(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    _corrected_to_minor(client, session, staff, breach)
    mail = session.exec(
        select(Notification).where(
            Notification.template == "objection_decision", Notification.channel == "email"
        )
    ).one()
    message = render("objection_decision", mail.context)
    for text in (message.text, message.html):
        assert "依规不予公示" in text
        assert "该条公示信息已予更正" not in text
    assert "不予公示" in mail.context["result"]


def test_the_subject_still_objects_to_a_minor_record_and_the_platform_hears_nothing_more(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    _corrected_to_minor(client, session, staff, breach)
    body = {"access_code": access_code(session, breach), "reason": "事实仍有出入", "evidence": "补充证明"}
    assert client.post(f"{API}/public/breaches/{breach.number}/objection", json=body).status_code == 201
    before = _documents(session)
    r = client.post(
        f"{API}/breaches/{breach.id}/actions/uphold_correct",
        json={"reason": "更正事实", "corrected": {"facts": "逾期三日提交"}},
        headers=staff.auth("handler"),
    )
    assert r.status_code == 200, r.text
    # Still 轻微: the platform took it down and must not be shown it again by a correction.
    assert _documents(session) == before


def test_a_minor_record_corrected_back_to_general_is_published_again(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    record = objected(engine, session, calendar)
    correct(session, record, calendar, severity="minor")
    subject_files(session, record, "object", dt.date(2026, 3, 4), calendar)
    correct(session, record, calendar, severity="general")
    kinds = [kind for kind, _ in _documents(session)]
    assert kinds == ["publish", "correct", "withdraw", "correct", "publish"]
    assert _documents(session)[-1][1] == f"{record.number}:publish:not-minor:1"
    assert count_shown(session=session, today=dt.date(2026, 3, 4)) == 1


def test_a_government_breach_confirmed_as_minor_is_kept_but_never_published(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff, severity="minor")
    [record] = session.exec(select(PublishedBreach)).all()
    assert (record.severity, record.state) == ("minor", BreachState.PUBLISHED)
    assert _documents(session) == []
    assert client.get(f"{API}/public/government-breaches").json()["items"] == []
    assert client.get(f"{API}/public/breaches").json()["items"] == []
    # Its subject (through the credit office) still objects to it.
    r = client.post(
        f"{API}/government-breaches/{record.number}/objection",
        json={"reason": "已按期支付", "document_reference": "住建函〔2026〕9号"},
        headers=staff.auth("supervisor"),
    )
    assert r.status_code == 200, r.text


def test_a_false_pledge_record_corrected_to_minor_still_bars_the_pledge_route(
    session: Session, staff: Staff
) -> None:
    del staff
    record = _found_false(session)
    subject_files(session, record, "object", dt.date(2026, 3, 4), load_calendar(session=session))
    _decided_to_minor(session, record)
    assert single_refusal(session, dt.date(2026, 3, 6)) is not None


def _decided_to_minor(session: Session, record: PublishedBreach) -> None:
    assert record.id is not None
    handler = Actor(name="住建经办人", role=Role.HANDLER, department_id=record.department_id)
    decide(
        session=session, breach_id=record.id, action="uphold_correct", actor=handler, reason="经核查",
        today=dt.date(2026, 3, 5), calendar=load_calendar(session=session), corrected={"severity": "minor"},
    )  # fmt: skip
    session.commit()
    assert session.get(PublishedBreach, record.id).severity == "minor"  # type: ignore[union-attr]


def test_a_minor_record_moved_by_a_retirement_is_not_sent_to_the_platform(
    client: TestClient,
    staff: Staff,
    session: Session,
    pinned: None,  # noqa: F811
) -> None:
    """Retirement tells the platform the new deciding body of each moved record; a record the platform
    never had would go as a PUBLISH, which a 轻微 record must never get."""
    add_department(session, "C00", "市政府办公室", None)
    add_department(session, "D00", "市发展和改革委员会", "C00")
    confirmed(client, staff, severity="minor")
    assert session.exec(select(PlatformDocument)).all() == []
    retire(client, staff, "D00", "D01")
    session.expire_all()
    assert session.exec(select(PlatformDocument)).all() == []


def test_a_minor_record_the_platform_still_shows_is_taken_down_once_by_the_push_run(
    engine: Engine, session: Session, staff: Staff
) -> None:
    """A 轻微 record the platform got before 轻微 records were kept off it (an upgrade, or a record whose
    class was changed without its correction's documents) is withdrawn by the push run's reconciliation,
    once, so no one-off step is needed."""
    del staff  # the departments
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    session.execute(update(PlatformDocument).values(status=DocumentStatus.ACKNOWLEDGED))
    session.execute(update(PublishedBreach).values(severity=Severity.MINOR))
    session.commit()
    assert follow_minor_records(session=session, today=dt.date(2026, 3, 20)) == 1
    session.commit()
    assert _documents(session)[-1] == ("withdraw", f"{breach.number}:withdraw:minor:1")
    assert follow_minor_records(session=session, today=dt.date(2026, 3, 20)) == 0  # once only

"""A decision on a breach record reaches every place that shows the same facts: the department's credit
record, the public credit profile, the pledgor's status page, the printed notice and the scorecard; and a
decision after the record's publication end is refused whether or not the expire flow has run."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.breach import PublishedBreach
from models.calendar import load_calendar
from models.clock import utcnow
from models.errors import Conflict
from models.government_credit_record import GovernmentCreditRecord
from models.lifecycle import BreachState, Role
from models.pledge import Pledge
from models.pledges.self_service import pledge_status
from models.register import decide, expire_records, expiry_candidates
from models.register.requests import PUBLIC_ACTOR
from models.scorecard import Period
from models.scorecard_pledges import pledge_scores
from models.workflow import Actor, apply_event
from tests.conftest import Staff
from tests.test_government_credit import confirmed
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from web.pledge_notice import notice_facts

API = "/api/v1"

DAY = dt.date(2026, 6, 1)  # within the records' publication period (JDRQ 2026-02-28, GSJZQ 2027-02-28)
FEBRUARY = Period("month", dt.date(2026, 2, 1), dt.date(2026, 2, 28))  # the pledges' deadline month


def _decider_of(record: PublishedBreach) -> Actor:
    """Who decides: a pledge record's department's handler (its repair is that department's to decide); a
    record from a complaint, confirmed by the credit office, its supervisors."""
    if record.complaint_id is not None:
        return Actor(name="督办员", role=Role.SUPERVISOR)
    return Actor(name="经办人", role=Role.HANDLER, department_id=record.department_id)


def _request(session: Session, record: PublishedBreach, event: str, day: dt.date = DAY) -> None:
    apply_event(
        session=session,
        case=record,
        event=event,
        actor=PUBLIC_ACTOR,
        today=day,
        calendar=load_calendar(session=session),
        note="不服",
    )
    session.commit()


def _decide(session: Session, record: PublishedBreach, action: str, day: dt.date = DAY, **kw: object) -> None:
    assert record.id is not None
    decide(
        session=session,
        breach_id=record.id,
        action=action,
        actor=_decider_of(record),
        reason="经核查",
        today=day,
        calendar=load_calendar(session=session),
        **kw,  # type: ignore[arg-type]
    )
    session.commit()


def _withdrawn(engine: Engine, session: Session) -> PublishedBreach:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    _request(session, record, "object")
    _decide(session, record, "uphold_withdraw")
    return record


def _repaired(engine: Engine, session: Session) -> PublishedBreach:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    _request(session, record, "request_repair")
    _decide(session, record, "approve_repair")
    return record


def test_corrected_facts_and_basis_reach_the_department_credit_record(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    [record] = session.exec(select(PublishedBreach)).all()
    summary = session.exec(select(GovernmentCreditRecord)).one().matter
    r = client.post(
        f"{API}/government-breaches/{record.number}/objection",
        json={"reason": "已付清"},
        headers=staff.auth("supervisor"),
    )
    assert r.status_code == 200, r.text
    corrected = {
        "facts": "经责令整改，部分整改",
        "basis": "更正依据",
        "matter": "更正的摘要",
        "severity": "minor",
    }
    r = client.post(
        f"{API}/breaches/{record.id}/actions/uphold_correct",
        json={"reason": "成立", "corrected": corrected},
        headers=staff.auth("supervisor"),
    )
    assert r.status_code == 200, r.text
    [shown] = client.get(f"{API}/departments/D01/credit-record", headers=staff.auth("supervisor")).json()[
        "records"
    ]
    assert (shown["facts"], shown["basis"], shown["severity"]) == (
        "经责令整改，部分整改",
        "更正依据",
        "minor",
    )
    # The credit record's matter is the complaint's internal summary, not the register's published text.
    assert shown["matter"] == summary


def test_credit_record_keeps_its_facts_when_only_the_severity_is_corrected(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    [record] = session.exec(select(PublishedBreach)).all()
    before = session.exec(select(GovernmentCreditRecord)).one()
    facts, basis = before.facts, before.basis
    _request(session, record, "object", dt.date(2026, 3, 2))
    _decide(session, record, "uphold_correct", dt.date(2026, 3, 2), corrected={"severity": "serious"})
    session.expire_all()
    row = session.exec(select(GovernmentCreditRecord)).one()
    assert (row.facts, row.basis, str(row.severity)) == (facts, basis, "serious")


def test_credit_profile_shows_a_published_pledge_with_its_corrected_matter(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    _request(session, record, "object", dt.date(2026, 3, 2))
    _decide(
        session, record, "uphold_correct", dt.date(2026, 3, 2), corrected={"matter": "建设工程规划许可证"}
    )
    profile = client.get(f"{API}/public/credit/{CODE}").json()
    assert [r["matter"] for r in profile["records"]] == ["建设工程规划许可证"]
    assert [p["matter"] for p in profile["pledges"]["items"]] == ["建设工程规划许可证"]


@pytest.mark.parametrize(
    ("path", "headline", "record_label", "notice_term"),
    [
        (
            "withdrawn",
            "失信公示已撤销（异议成立，不属违约失信）",
            "已撤销（异议成立）",
            "失信记录已撤销，不属违约失信",
        ),
        ("repaired", "曾公示失信（已信用修复，停止公示）", "已信用修复", "已信用修复，停止公示"),
        # Past its GSJZQ, before the expire flow has recorded it: the register already hides it.
        ("lapsed", "曾公示失信（公示期满，停止公示）", "公示期满", "公示期满，停止公示"),
        ("expired", "曾公示失信（公示期满，停止公示）", "公示期满", "公示期满，停止公示"),
    ],
)
def test_pledgor_status_and_notice_say_what_became_of_the_record(
    engine: Engine,
    session: Session,
    staff: Staff,
    path: str,
    headline: str,
    record_label: str,
    notice_term: str,
) -> None:
    day = DAY
    if path == "withdrawn":
        record = _withdrawn(engine, session)
    elif path == "repaired":
        record = _repaired(engine, session)
    else:
        [record] = publish(engine, session, ("示范建设有限公司", CODE))
        day = record.publication_end + dt.timedelta(days=1)
        if path == "expired":
            ids = expiry_candidates(session=session, today=day)
            expire_records(session=session, ids=ids, today=day, actor=Actor.system("t"))
            session.commit()
    pledge = session.get(Pledge, record.pledge_id)
    assert pledge is not None
    status = pledge_status(
        session=session,
        number=pledge.number,
        access_code=access_code(session, record),
        address="192.0.2.1",
        now=utcnow(),
        today=day,
    )
    assert (status["state_label"], status["record_state_label"], status["record_shown"]) == (
        headline,
        record_label,
        False,
    )
    notice = notice_facts(pledge=pledge, authority=None, today=day)
    assert notice_term in notice.terms[0]
    assert "已依法公示为违约失信记录" not in notice.terms[0]
    assert any(f.value == f"已办结（{headline}）" for f in notice.facts)


def test_a_shown_record_is_still_headed_as_published(engine: Engine, session: Session, staff: Staff) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    pledge = session.get(Pledge, record.pledge_id)
    assert pledge is not None
    notice = notice_facts(pledge=pledge, authority=None, today=DAY)
    assert notice.terms[0] == "本承诺逾期未履行，已依法公示为违约失信记录。本告知书仅作存档。"


def test_scorecard_does_not_count_a_withdrawn_record_as_a_broken_pledge(
    engine: Engine, session: Session, staff: Staff
) -> None:
    _withdrawn(engine, session)
    [row] = pledge_scores(session=session, period=FEBRUARY)
    assert (row.due, row.fulfilled, row.broken, row.fulfilment_rate) == (1, 0, 0, None)


def test_scorecard_still_counts_a_repaired_record_as_a_broken_pledge(
    engine: Engine, session: Session, staff: Staff
) -> None:
    _repaired(engine, session)
    [row] = pledge_scores(session=session, period=FEBRUARY)
    assert (row.due, row.broken, row.fulfilment_rate) == (1, 1, 0.0)


@pytest.mark.parametrize("flow_ran", [False, True])
def test_decision_after_the_publication_end_is_refused_whether_or_not_expiry_ran(
    engine: Engine, session: Session, staff: Staff, flow_ran: bool
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    end = record.publication_end
    _request(session, record, "object", end)  # lodged on the last day of the period
    day = end + dt.timedelta(days=1)
    if flow_ran:
        expire_records(
            session=session,
            ids=expiry_candidates(session=session, today=day),
            today=day,
            actor=Actor.system("t"),
        )
        session.commit()
    with pytest.raises(Conflict, match=f"公示期已于 {end.isoformat()} 届满"):
        _decide(session, record, "uphold_correct", day, corrected={"severity": "serious"})
    session.rollback()
    session.expire_all()
    after = session.get(PublishedBreach, record.id)
    assert after is not None
    assert (str(after.severity), after.publication_end) == ("general", end)
    assert after.state == (BreachState.EXPIRED if flow_ran else BreachState.UNDER_OBJECTION)


def test_decision_on_the_last_day_of_publication_is_accepted(
    engine: Engine, session: Session, staff: Staff
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    end = record.publication_end
    _request(session, record, "object", end)
    _decide(session, record, "reject_objection", end)
    session.expire_all()
    after = session.get(PublishedBreach, record.id)
    assert after is not None
    assert after.state == BreachState.PUBLISHED

"""RULEBOOK pledges §5 and §2: confirming a false pledge records it as a 严重 breach record on the register
(numbered, pushed to the credit platform, the pledgor told how to object or repair), and the bar on the
pledge route it puts on the pledgor lifts once that record is repaired, withdrawn on an objection or past
its period, by the single check and the import's alike. A false pledge confirmed before findings were
recorded has no record and stays barred."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.breach import PublishedBreach, Severity
from models.calendar import load_calendar
from models.errors import ValidationFailed
from models.lifecycle import BreachState, PledgeState, Role
from models.org import Department
from models.outbox import Notification
from models.platform import PlatformDocument
from models.pledge import Pledge, PledgorKind
from models.pledges import credit_check, pledge_action
from models.pledges.importing import import_pledges
from models.pledges.queries import publication_status
from models.pledges.self_service import pledge_state_label
from models.register import decide
from models.register.requests import request_repair, submit_objection
from models.register.states import record_outcome
from models.workflow import Actor
from notifications.render import render
from tests.conftest import Staff
from tests.test_publication import CODE, SUPERVISOR, new_pledge
from tests.test_register import access_code
from web.pledge_notice import notice_facts

NAME = "示范建设有限公司"
FOUND_FALSE = dt.date(2026, 3, 3)
HANDLER = Actor(name="住建经办人", role=Role.HANDLER)


def _found_false(session: Session) -> PublishedBreach:
    pledge = new_pledge(session, dt.date(2026, 3, 20), registered_on=dt.date(2026, 3, 2))
    assert pledge.id is not None
    pledge_action(
        session=session, pledge_id=pledge.id, action="confirm_false", actor=SUPERVISOR, today=FOUND_FALSE,
        calendar=load_calendar(session=session), expected_version=None, reason="施工图审查合格书系伪造",
    )  # fmt: skip
    session.commit()
    return session.exec(select(PublishedBreach).where(PublishedBreach.pledge_id == pledge.id)).one()


def single_refusal(
    session: Session, day: dt.date, *, code: str | None = CODE, name: str = NAME
) -> str | None:
    """The reason ``credit_check`` refuses the subject on ``day`` with, None when it lets it through."""
    try:
        credit_check(session=session, credit_code=code, name=name, today=day)
    except ValidationFailed as refused:
        return str(refused.details["reason"])
    return None


def import_refusal(
    session: Session, day: dt.date, *, code: str | None = CODE, name: str = NAME
) -> str | None:
    """The import's refusal of one row for the subject on ``day`` (rolled back), None when imported."""
    row = {
        "pledgor_kind": "企业" if code else "个人", "pledgor_name": name, "pledgor_credit_code": code,
        "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书",
        "deadline": (day + dt.timedelta(days=30)).isoformat(), "authority_code": "D01",
    }  # fmt: skip
    report = import_pledges(
        session=session, rows=enumerate([row], start=2), actor=Actor(name="导入", role=Role.ADMIN),
        source_name="t.csv", today=day, calendar=load_calendar(session=session),
    )  # fmt: skip
    session.rollback()
    if report.imported:
        return None
    [refusal] = report.refusals
    return refusal.message


def _decided(session: Session, record: PublishedBreach, action: str, day: dt.date) -> None:
    assert record.id is not None
    handler = Actor(name=HANDLER.name, role=Role.HANDLER, department_id=record.department_id)
    decide(
        session=session, breach_id=record.id, action=action, actor=handler, reason="经核查",
        today=day, calendar=load_calendar(session=session),
    )  # fmt: skip
    session.commit()


def test_confirming_a_false_pledge_records_a_serious_breach_pushed_to_the_platform(
    session: Session, staff: Staff
) -> None:
    del staff
    record = _found_false(session)
    pledge = session.get(Pledge, record.pledge_id)
    assert pledge is not None
    assert pledge.state == PledgeState.FALSE_PLEDGE
    assert (record.source_kind, record.subject_name, record.subject_credit_code) == ("pledge", NAME, CODE)
    assert (record.severity, record.state) == (Severity.SERIOUS, BreachState.PUBLISHED)
    # 严重: shown 3 years from the finding, repairable after 1.
    assert (record.decision_date, record.repair_earliest, record.publication_end) == (
        FOUND_FALSE,
        dt.date(2027, 3, 3),
        dt.date(2029, 3, 3),
    )
    assert "施工图审查合格书系伪造" in record.facts
    assert pledge.number in record.facts
    assert record.department_id == pledge.authority_id
    [document] = session.exec(select(PlatformDocument).where(PlatformDocument.breach_id == record.id)).all()
    assert str(document.kind) == "publish"
    assert document.payload["record"]["record_number"] == record.number
    [created] = session.exec(
        select(CaseEvent).where(CaseEvent.case_kind == "breach", CaseEvent.case_id == record.id)
    ).all()
    assert (created.event, created.data["finding"]) == ("create", "false_pledge")
    [notice] = session.exec(
        select(Notification).where(Notification.template == "pledge_false_recorded")
    ).all()
    assert (notice.case_kind, notice.case_id) == ("pledge", pledge.id)
    message = render("pledge_false_recorded", notice.context)
    assert record.number in message.text
    assert "2027年3月3日" in message.text


def test_the_false_pledge_bar_lifts_once_its_record_is_repaired(session: Session, staff: Staff) -> None:
    del staff
    record = _found_false(session)
    day = record.repair_earliest
    assert single_refusal(session, day) == "false_pledge"
    assert "虚假承诺" in (import_refusal(session, day) or "")
    request_repair(
        session=session, number=record.number, access_code=access_code(session, record),
        statement="已重新取得合格书并整改", repair_pledge="今后如实承诺", today=day,
        calendar=load_calendar(session=session),
    )  # fmt: skip
    session.commit()
    # Asked, not yet decided: still barred.
    assert single_refusal(session, day) == "false_pledge"
    _decided(session, record, "approve_repair", day)
    assert (single_refusal(session, day), import_refusal(session, day)) == (None, None)
    new_pledge(session, dt.date(2027, 4, 30), registered_on=day)  # the pledge route is open again


def test_the_false_pledge_bar_lifts_when_its_record_is_withdrawn_on_objection(
    session: Session, staff: Staff
) -> None:
    del staff
    record = _found_false(session)
    day = dt.date(2026, 3, 10)
    submit_objection(
        session=session, number=record.number, access_code=access_code(session, record),
        reason="合格书真实有效，审查机构可核验", evidence="审查机构出具的证明", today=day,
        calendar=load_calendar(session=session),
    )  # fmt: skip
    session.commit()
    assert single_refusal(session, day) == "false_pledge"
    _decided(session, record, "uphold_withdraw", day)
    assert (single_refusal(session, day), import_refusal(session, day)) == (None, None)


def test_the_false_pledge_bar_lifts_the_day_after_its_record_stops_showing(
    session: Session, staff: Staff
) -> None:
    del staff
    record = _found_false(session)
    last_day = record.publication_end
    assert single_refusal(session, last_day) == "false_pledge"
    assert import_refusal(session, last_day) is not None
    # Whether or not the expire flow has run since: the record is no longer shown.
    after = last_day + dt.timedelta(days=1)
    assert (single_refusal(session, after), import_refusal(session, after)) == (None, None)


@pytest.mark.parametrize("code", [CODE, None])
def test_a_false_pledge_confirmed_before_findings_were_recorded_still_bars(
    session: Session, staff: Staff, code: str | None
) -> None:
    del staff
    dept = session.exec(select(Department.id).where(Department.code == "D01")).one()
    assert dept is not None
    name = NAME if code else "李四"
    session.add(
        Pledge(
            number="CN-2025-000900", year=2025, seq=900, state=PledgeState.FALSE_PLEDGE, authority_id=dept,
            pledgor_kind=PledgorKind.ENTERPRISE if code else PledgorKind.INDIVIDUAL, pledgor_name=name,
            pledgor_credit_code=code, matter="事项", obligation="材料", deadline=dt.date(2025, 3, 2),
        )
    )  # fmt: skip
    session.commit()
    years_later = dt.date(2030, 3, 4)
    assert single_refusal(session, years_later, code=code, name=name) == "false_pledge"
    assert "CN-2025-000900" in (import_refusal(session, years_later, code=code, name=name) or "")


def test_a_withdrawn_false_finding_is_no_longer_told_as_a_false_pledge(
    session: Session, staff: Staff
) -> None:
    """The pledgor's status label and the printed notice read the record's outcome, as for a published
    pledge; the staff page's publication line names the finding, not a day counted from the deadline."""
    del staff
    record = _found_false(session)
    pledge = session.get(Pledge, record.pledge_id)
    assert pledge is not None
    authority = session.get(Department, pledge.authority_id)
    assert publication_status(pledge, load_calendar(session=session))["publication_day_status"] == (
        "not_applicable"
    )
    day = dt.date(2026, 3, 10)
    in_force = notice_facts(pledge=pledge, authority=authority, today=day)
    assert "信用修复前不再适用告知承诺方式" in "".join(in_force.terms)

    submit_objection(
        session=session, number=record.number, access_code=access_code(session, record),
        reason="合格书真实有效，审查机构可核验", evidence="审查机构出具的证明", today=day,
        calendar=load_calendar(session=session),
    )  # fmt: skip
    session.commit()
    _decided(session, record, "uphold_withdraw", day)
    session.refresh(pledge)
    outcome = record_outcome(session.get(PublishedBreach, record.id), day)  # type: ignore[arg-type]
    assert pledge_state_label(pledge, outcome) == "虚假承诺认定已撤销（异议成立）"
    withdrawn = notice_facts(pledge=pledge, authority=authority, today=day)
    terms = "".join(withdrawn.terms)
    assert "不再适用告知承诺方式" not in terms
    assert "失信记录已撤销" in terms

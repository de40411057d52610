"""Intake screening: duplicate and department suggestions, recorded on the case, never a silent move."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, col, select

from models.accounts import department_by_code
from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.complaint import Category, CategoryRule, Complaint, ComplaintCreate
from models.complaints import RejectBody, RejectRoute, act, register_complaint, screen_batch, unscreened_ids
from models.lifecycle import Role
from models.workflow import Actor
from tests.conftest import Staff
from tests.web_support import sign_in

INTAKE = Actor(name="受理员", role=Role.INTAKE)
SYSTEM = Actor.system("run-9")


def register(session: Session, calendar: WorkCalendar, today: dt.date, **fields: Any) -> Complaint:
    data = {
        "channel": "hotline",
        "complainant_name": "某某公司",
        "complainant_phone": "13800000000",
        "category": "sme_arrears",
        "summary": "工程款逾期未支付",
        **fields,
    }
    complaint, _ = register_complaint(
        session=session,
        data=ComplaintCreate.model_validate(data),
        actor=INTAKE,
        today=today,
        calendar=calendar,
    )
    session.commit()
    return complaint


def screen(session: Session, today: dt.date) -> int:
    return screen_batch(session=session, ids=unscreened_ids(session=session), actor=SYSTEM, today=today)


def test_duplicates_by_complainant_or_by_respondent_and_similar_summary(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    first = register(session, calendar, today, respondent_department_code="D01")
    same_phone = register(session, calendar, today, summary="完全不同的事情：招商奖励未兑现")
    similar = register(
        session, calendar, today, complainant_phone="13911111111", respondent_department_code="D01",
        summary="工程款逾期一直未支付",
    )  # fmt: skip
    unrelated = register(
        session, calendar, today, complainant_phone="13922222222", respondent_department_code="D01",
        summary="招标文件设置不合理条件",
    )  # fmt: skip
    assert screen(session, today) == 4
    session.expire_all()

    def numbers(c: Complaint) -> list[tuple[str, str]]:
        fresh = session.get(Complaint, c.id)
        assert fresh is not None
        return [(d["number"], d["reason"]) for d in fresh.suggestions["duplicates"]]

    assert numbers(same_phone) == [(first.number, "同一投诉人")]
    assert numbers(similar) == [(first.number, "同一被投诉单位且诉求相似")]
    assert numbers(unrelated) == []
    assert numbers(first) == [(same_phone.number, "同一投诉人"), (similar.number, "同一被投诉单位且诉求相似")]
    # Suggestions only: nothing was merged or moved.
    states = session.exec(select(Complaint.state)).all()
    assert set(states) == {"registered"}


def test_a_shared_domain_or_a_placeholder_address_does_not_make_complainants_the_same_person(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    def person(phone: str, email: str, summary: str) -> Complaint:
        return register(session, calendar, today, complainant_phone=phone, complainant_email=email,
                        summary=summary)  # fmt: skip

    first = person("13911110001", "wang@qq.com", "工程款逾期未支付")
    same_domain = person("13911110002", "li@qq.com", "招商奖励未兑现")
    demo_a = person("13911110003", "demo-complainant@example.com", "政府采购款拖欠")
    demo_b = person("13911110004", "demo-complainant@example.com", "土地出让承诺未兑现")
    same_address = person("13911110005", "Wang@QQ.com", "拆迁补偿未到位")
    assert screen(session, today) == 5
    session.expire_all()

    def duplicates(c: Complaint) -> list[str]:
        fresh = session.get(Complaint, c.id)
        assert fresh is not None
        return [d["number"] for d in fresh.suggestions["duplicates"]]

    assert duplicates(same_domain) == []
    assert duplicates(demo_a) == []
    assert duplicates(demo_b) == []
    assert duplicates(same_address) == [first.number]  # one real address, spelt in another case


def test_department_from_the_dispatch_catalogue_or_the_respondent(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    finance = department_by_code(session=session, code="D02")
    session.add(
        CategoryRule(
            category=Category.SME_ARREARS,
            rectification_working_days=15,
            keywords=["账款", "尾款"],
            department_id=finance.id,
        )
    )
    session.commit()
    by_keyword = register(session, calendar, today, summary="拖欠货物账款三年未付")
    by_respondent = register(
        session, calendar, today, complainant_phone="13900000139", respondent_department_code="D01"
    )
    nothing = register(
        session, calendar, today, complainant_phone="13700000137", category="other", summary="其他事项"
    )
    screen(session, today)
    session.expire_all()
    got = {c.id: c.suggestions["department"] for c in session.exec(select(Complaint)).all()}
    assert got[by_keyword.id] == {
        "code": "D02",
        "name": "市财政局",
        "reason": "派单目录：拖欠中小企业账款，关键词 账款",
    }
    assert got[by_respondent.id] == {"code": "D01", "name": "市住房和城乡建设局", "reason": "被投诉单位"}
    assert got[nothing.id] is None


def test_screening_is_recorded_once_and_skips_cases_past_intake(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    a = register(session, calendar, today)
    b = register(session, calendar, today, complainant_phone="13700000000")
    assert a.id is not None
    assert b.id is not None
    act(
        session=session, complaint_id=b.id, action="reject", actor=INTAKE, today=today, calendar=calendar,
        body=RejectBody(reason="已起诉", route=RejectRoute.LITIGATION),
    )  # fmt: skip
    session.commit()
    assert unscreened_ids(session=session) == [a.id]
    assert screen(session, today) == 1
    assert screen(session, today) == 0
    # Even a batch naming the case again (an overlapping run) records nothing twice.
    assert screen_batch(session=session, ids=[a.id, b.id], actor=SYSTEM, today=today) == 0
    session.expire_all()
    [event] = session.exec(select(CaseEvent).where(CaseEvent.event == "suggest")).all()
    assert (event.case_id, event.flow_run_id, event.idempotency_key) == (
        a.id,
        "run-9",
        f"complaint:{a.id}:suggest",
    )
    assert event.data["duplicates"] == []
    fresh = session.get(Complaint, a.id)
    assert fresh is not None
    assert fresh.screened is True
    assert fresh.version == 2
    assert (
        session.exec(
            select(CaseEvent).where(col(CaseEvent.case_id) == b.id, CaseEvent.event == "suggest")
        ).all()
        == []
    )


@pytest.mark.prefect
def test_the_flow_stamps_its_run_id_on_suggestions(
    prefect_harness: None, calendar: WorkCalendar, today: dt.date
) -> None:
    from flows.screen_intake import screen_intake
    from models.accounts import import_departments
    from models.db import get_engine
    from tests.conftest import DEPARTMENTS

    engine = get_engine()  # the flow's own engine: the per-test SQLite file of SHOUXIN_DATABASE_URL
    SQLModel.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
        first = register(session, calendar, today, respondent_department_code="D01")
        second = register(session, calendar, today, respondent_department_code="D01")
    assert screen_intake(as_of=today) == 2
    assert screen_intake(as_of=today) == 0
    with Session(engine) as session:
        rows = session.exec(
            select(CaseEvent).where(CaseEvent.event == "suggest").order_by(col(CaseEvent.id))
        ).all()
        assert [e.case_id for e in rows] == [first.id, second.id]
        run_ids = {e.flow_run_id for e in rows}
        assert len(run_ids) == 1
        assert None not in run_ids
        assert rows[1].data["duplicates"][0]["number"] == first.number
        assert rows[1].data["department"]["code"] == "D01"


def test_the_case_page_shows_the_screening_result_with_links(
    client: TestClient, session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    first = register(session, calendar, today, respondent_department_code="D01")
    second = register(session, calendar, today, summary="完全不同的事情：招商奖励未兑现")
    assert screen(session, today) == 2
    session.commit()
    sign_in(client, staff.intake)
    page = client.get(f"/staff/complaints/{second.id}").text
    assert 'id="screening"' in page
    assert f'<a href="/staff/complaints/{first.id}">{first.number}</a> · 同一投诉人' in page
    first_page = client.get(f"/staff/complaints/{first.id}").text
    assert "建议主办部门：<strong>市住房和城乡建设局</strong>" in first_page

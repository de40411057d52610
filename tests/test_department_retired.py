"""A department retired in a reorganisation (机构改革) hands its open work to its successor: the complaints it
leads or assists, its open pledges and the departments under it move, each case with an audit event and the
successor with one mail; finished cases keep the old department; refusals change nothing; a second run
moves nothing (新官不理旧账 must not happen because of a reorganisation)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.accounts import import_departments
from models.audit import CaseEvent
from models.audit_verify import verify_audit
from models.breach import PublishedBreach
from models.calendar import load_calendar
from models.complaint import Complaint, ComplaintAssignment
from models.db import make_engine
from models.department_handover import SUCCEEDED_EVENT
from models.lifecycle import PledgeState, Role
from models.org import Department, DepartmentCreate, DepartmentLevel
from models.outbox import Notification
from models.platform import DocumentKind, PlatformDocument
from models.pledge import Pledge
from models.pledges import importing, pledge_action
from models.pledges.importing import ImportReport, import_pledges
from models.schema import upgrade
from models.settings import get_settings
from models.workflow import Actor
from tests.conftest import TODAY, Staff
from tests.test_complaints_api import API, BODY, act, dispatched_and_signed, register
from tests.test_government_breach_downgrade import _downgrade
from tests.test_hotline_intake import new_hotline_token
from tests.test_hotline_intake import post as post_order
from tests.test_hotline_results import messages as hotline_messages
from tests.test_publication import CODE, SUPERVISOR, new_pledge
from tests.test_register import access_code, publish
from tests.web_support import post_form, sign_in

REASON = "根据《市级机构改革方案》，市住房和城乡建设局并入市财政局"


def retire(
    client: TestClient, staff: Staff, code: str, successor: str | None, status: int = 200, **extra: Any
) -> dict[str, Any]:
    body = {"successor_code": successor, "reason": REASON, **extra}
    response = client.post(f"{API}/admin/departments/{code}/retire", json=body, headers=staff.auth("admin"))
    assert response.status_code == status, response.text
    data: dict[str, Any] = response.json()
    return data


def dept(session: Session, code: str) -> Department:
    session.expire_all()
    found = session.exec(select(Department).where(Department.code == code)).one()
    return found


def add_department(session: Session, code: str, name: str, competent: str | None) -> None:
    item = DepartmentCreate(code=code, name=name, level=DepartmentLevel.CITY, competent_code=competent)
    import_departments(session=session, items=[item])
    session.commit()


def dispatched(client: TestClient, staff: Staff, lead: str, assisting: list[str]) -> int:
    cid = int(register(client, staff)["id"])
    act(client, staff, "intake", cid, "accept")
    act(
        client,
        staff,
        "intake",
        cid,
        "dispatch",
        lead_department_code=lead,
        assisting_department_codes=assisting,
    )
    return cid


def closed(client: TestClient, staff: Staff) -> int:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同未约定该笔款项")
    act(client, staff, "handler", cid, "reply", reply_text="经核实，合同未约定该笔款项，特此说明。")
    act(client, staff, "intake", cid, "close", satisfaction="满意")
    return cid


def assignments(session: Session, cid: int) -> dict[str, tuple[bool, bool]]:
    """Each department's (lead, active) on the complaint, by code."""
    session.expire_all()
    rows = session.exec(
        select(Department.code, ComplaintAssignment.lead, ComplaintAssignment.active)
        .join(Department, col(Department.id) == ComplaintAssignment.department_id)
        .where(ComplaintAssignment.complaint_id == cid)
    ).all()
    return {code: (lead, active) for code, lead, active in rows}


def events(session: Session, kind: str, case_id: int) -> list[CaseEvent]:
    stmt = select(CaseEvent).where(CaseEvent.case_kind == kind, CaseEvent.case_id == case_id)
    return list(session.exec(stmt.where(CaseEvent.event == SUCCEEDED_EVENT)).all())


def succession_mails(session: Session) -> list[Notification]:
    stmt = select(Notification).where(Notification.template == "department_succession")
    return list(session.exec(stmt).all())


@pytest.fixture
def world(client: TestClient, staff: Staff, session: Session) -> dict[str, int]:
    """D01 (to retire) leads one open complaint (K01 assisting), assists one D02 leads, led one now closed;
    it is the authority of an open pledge and a cancelled one, and the 主管部门 of D03."""
    add_department(session, "D03", "市住房保障中心", "D01")
    led = dispatched(client, staff, "D01", ["K01"])
    assisted = dispatched(client, staff, "D02", ["D01"])
    finished = closed(client, staff)
    open_pledge = new_pledge(session, dt.date(2026, 4, 30))
    cancelled = new_pledge(session, dt.date(2026, 4, 30), name="另一建设有限公司")
    assert cancelled.id is not None
    assert open_pledge.id is not None
    pledge_action(
        session=session, pledge_id=cancelled.id, action="cancel", actor=SUPERVISOR, today=dt.date(2026, 3, 2),
        calendar=load_calendar(session=session), expected_version=None, reason="申请人撤回申请",
    )  # fmt: skip
    session.commit()
    return {
        "led": led, "assisted": assisted, "finished": finished,
        "open_pledge": open_pledge.id, "cancelled_pledge": cancelled.id,
    }  # fmt: skip


def test_retiring_moves_open_complaints_pledges_and_subordinates_with_events_and_one_mail(
    client: TestClient, staff: Staff, session: Session, world: dict[str, int]
) -> None:
    answer = retire(client, staff, "D01", "D02")

    assert (answer["complaints"], answer["pledges"], answer["departments"]) == (2, 1, ["D03"])
    assert answer["already_retired"] is False
    assert [u["name"] for u in answer["staff_to_move"]] == ["住建经办人"]  # listed, not moved
    retired, successor = dept(session, "D01"), dept(session, "D02")
    assert (retired.active, retired.successor_id) == (False, successor.id)
    assert dept(session, "D03").competent_id == successor.id
    led, assisted = session.get(Complaint, world["led"]), session.get(Complaint, world["assisted"])
    assert led is not None
    assert assisted is not None
    assert (led.lead_department_id, assisted.lead_department_id) == (successor.id, successor.id)
    assert assignments(session, world["led"]) == {
        "D01": (True, False),
        "D02": (True, True),
        "K01": (False, True),
    }
    assert assignments(session, world["assisted"]) == {"D02": (True, True), "D01": (False, False)}
    pledge = session.get(Pledge, world["open_pledge"])
    assert pledge is not None
    assert pledge.authority_id == successor.id

    for kind, case_id in (("complaint", world["led"]), ("complaint", world["assisted"]),
                          ("pledge", world["open_pledge"])):  # fmt: skip
        (event,) = events(session, kind, case_id)
        assert event.data == {"from": "D01", "to": "D02", "reason": REASON}
        assert event.from_state == event.to_state  # not a state change
    assert verify_audit(session=session).ok

    (mail,) = succession_mails(session)
    assert (mail.recipient_email, mail.context["predecessor_name"]) == (
        "czj@example.gov.cn",
        "市住房和城乡建设局",
    )
    assert (mail.context["complaint_count"], mail.context["pledge_count"]) == (2, 1)
    assert mail.context["departments"] == ["市住房保障中心"]

    # The department list answers who carries a retired department's work on.
    listed = {
        d["code"]: d for d in client.get(f"{API}/admin/departments", headers=staff.auth("admin")).json()
    }
    assert (listed["D01"]["active"], listed["D01"]["successor_id"]) == (False, successor.id)
    assert (listed["D02"]["active"], listed["D02"]["successor_id"]) == (True, None)

    # The pledge's timeline says so in words, on the API and the staff page alike.
    timeline = client.get(
        f"{API}/pledges/{world['open_pledge']}/events", headers=staff.auth("supervisor")
    ).json()
    assert timeline[-1]["label"] == "审批部门撤并，由承接部门继续办理（机构改革）"

    # The successor's handler works the case the retired department led; the old handler no longer sees it.
    act(client, staff, "handler2", world["led"], "sign_for")
    assert client.get(f"{API}/complaints/{world['led']}", headers=staff.auth("handler")).status_code == 404


def test_finished_cases_keep_the_retired_department(
    client: TestClient, staff: Staff, session: Session, world: dict[str, int]
) -> None:
    retire(client, staff, "D01", "D02")

    old = dept(session, "D01").id
    finished = session.get(Complaint, world["finished"])
    assert finished is not None
    assert finished.lead_department_id == old
    assert assignments(session, world["finished"]) == {"D01": (True, True)}
    cancelled = session.get(Pledge, world["cancelled_pledge"])
    assert cancelled is not None
    assert (cancelled.state, cancelled.authority_id) == (PledgeState.CANCELLED, old)
    assert events(session, "complaint", world["finished"]) == []
    assert events(session, "pledge", world["cancelled_pledge"]) == []


def test_fulfilled_and_published_pledges_are_acted_on_by_the_successor_not_the_retired_department(
    client: TestClient, staff: Staff, session: Session, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fulfilled pledge can still be found false (虚假承诺), a published pledgor still needs a new access
    # code: left with the retired authority, only its old accounts could do either.
    monkeypatch.setenv("SHOUXIN_TODAY", TODAY.isoformat())
    get_settings.cache_clear()
    [record] = publish(engine, session, ("示范建设有限公司", "91110000100000000R"))
    fulfilled = new_pledge(session, dt.date(2026, 4, 30))
    fulfilled.state = PledgeState.FULFILLED
    session.add(fulfilled)
    session.commit()

    answer = retire(client, staff, "D01", "D02")

    assert answer["pledges"] == 2
    reissue = f"{API}/pledges/{record.pledge_id}/access-code"
    find_false = f"{API}/pledges/{fulfilled.id}/actions/confirm_false"
    body = {"reason": "承诺人提交的施工图审查合格书系伪造"}
    assert client.post(reissue, json={"reason": "遗失"}, headers=staff.auth("handler")).status_code == 404
    assert client.post(find_false, json=body, headers=staff.auth("handler")).status_code == 404
    assert client.post(reissue, json={"reason": "遗失"}, headers=staff.auth("handler2")).status_code == 200
    assert client.post(find_false, json=body, headers=staff.auth("handler2")).status_code == 200
    assert len(events(session, "pledge", record.pledge_id)) == 1


def test_a_retired_departments_history_is_still_listed_and_exported_by_its_code(
    client: TestClient, staff: Staff
) -> None:
    cid = closed(client, staff)
    retire(client, staff, "D01", "D02")

    listed = client.get(f"{API}/complaints", params={"department": "D01"}, headers=staff.auth("supervisor"))
    assert listed.status_code == 200, listed.text
    assert cid in [c["id"] for c in listed.json()["items"]]
    export = f"{API}/complaints/export"
    exported = client.get(export, params={"department": "D01"}, headers=staff.auth("supervisor"))
    assert exported.status_code == 200, exported.text


def test_an_import_running_across_a_retirement_refuses_the_rows_after_it_naming_the_successor(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The flow commits after each chunk; a retirement between two chunks must not leave the later rows'
    # pledges with the retired authority, where only its old accounts could act on them.
    monkeypatch.setattr(importing, "IMPORT_CHUNK", 1)
    moved: list[dict[str, Any]] = []

    def after_chunk(_report: ImportReport) -> None:
        session.commit()
        if not moved:
            moved.append(retire(client, staff, "D01", "D02"))

    row = {
        "pledgor_kind": "个人", "matter": "建筑工程施工许可证", "obligation": "施工图审查合格书",
        "deadline": "2026-05-06", "authority_code": "D01",
    }  # fmt: skip
    report = import_pledges(
        session=session, rows=enumerate([{**row, "pledgor_name": n} for n in ("张三", "李四", "王五")], 2),
        actor=Actor(name="导入", role=Role.ADMIN), source_name="t.csv", today=TODAY,
        calendar=load_calendar(session=session), after_chunk=after_chunk,
    )  # fmt: skip
    session.commit()

    assert (report.imported, moved[0]["pledges"]) == (1, 1)
    assert [(e.row, e.column) for e in report.refusals] == [(3, "受理部门代码"), (4, "受理部门代码")]
    assert "已撤并，由 D02" in report.refusals[0].message
    assert session.exec(select(Pledge).where(Pledge.authority_id == dept(session, "D01").id)).all() == []


@pytest.mark.usefixtures("pinned")
def test_the_credit_platform_is_sent_a_correction_naming_the_successor_as_deciding_body(
    client: TestClient, staff: Staff, session: Session, engine: Engine
) -> None:
    for code, credit_code in (("D01", "11110000000000001A"), ("D02", "11110000000000002B")):
        found = dept(session, code)
        found.credit_code = credit_code
        session.add(found)
    session.commit()
    [record] = publish(engine, session, ("示范建设有限公司", "91110000100000000R"))

    retire(client, staff, "D01", "D02")

    session.expire_all()
    stmt = select(PlatformDocument).where(PlatformDocument.breach_id == record.id)
    documents = list(session.exec(stmt.order_by(col(PlatformDocument.id))).all())
    assert [d.kind for d in documents] == [DocumentKind.PUBLISH, DocumentKind.CORRECT]
    sent = documents[-1].payload["record"]
    assert (sent["department_code"], sent["SX_RDBMDM"]) == ("D02", "11110000000000002B")
    assert sent["corrections"]["before"]["department_code"] == "D01"
    assert sent["corrections"]["after"]["department_code"] == "D02"


def test_12345_is_told_the_successor_handles_an_order_the_retired_department_led(
    client: TestClient, session: Session, staff: Staff
) -> None:
    hotline_token = new_hotline_token(session)
    led = post_order(client, hotline_token).json()["id"]
    act(client, staff, "intake", led, "accept")
    act(client, staff, "intake", led, "dispatch", lead_department_code="D01")
    assisted = post_order(client, hotline_token, order_id="GD2026030200099").json()["id"]
    act(client, staff, "intake", assisted, "accept")
    act(
        client, staff, "intake", assisted, "dispatch", lead_department_code="D02",
        assisting_department_codes=["D01"],
    )  # fmt: skip
    before = len(hotline_messages(session))

    retire(client, staff, "D01", "D02")

    told = hotline_messages(session)[before:]
    assert [(m.complaint_id, m.stage) for m in told] == [(led, "dispatched")]  # the lead moved, nothing else
    assert told[0].payload["department"]["code"] == "D02"
    assert told[0].payload["event"] == SUCCEEDED_EVENT
    assert told[0].payload["reason"].endswith(REASON)


def test_the_case_page_names_the_assisting_departments_and_a_finished_cases_retired_lead(
    client: TestClient, staff: Staff
) -> None:
    listed = client.get(f"{API}/admin/departments", headers=staff.auth("admin")).json()
    name = {d["code"]: d["name"] for d in listed}
    open_case = dispatched(client, staff, "D01", ["K01"])
    finished = closed(client, staff)
    sign_in(client, staff.supervisor)
    page = client.get(f"/staff/complaints/{open_case}").text
    assert f"<dt>协办部门</dt><dd>{name['K01']}</dd>" in page
    client.cookies.clear()

    retire(client, staff, "D01", "D02")

    sign_in(client, staff.supervisor)
    page = client.get(f"/staff/complaints/{finished}").text
    assert f"<dt>主办部门</dt><dd>{name['D01']}（已撤并）</dd>" in page  # not 未派单: history keeps it


@pytest.mark.usefixtures("world")
def test_refusals_say_what_is_wrong_and_change_nothing(
    client: TestClient, staff: Staff, session: Session
) -> None:
    assert "不能由自己承接" in retire(client, staff, "D01", "D01", status=422)["message"]
    assert "必须指定承接部门" in retire(client, staff, "D01", None, status=422)["message"]
    assert "不存在" in retire(client, staff, "D01", "NOPE", status=422)["message"]
    retire(client, staff, "NOPE", "D02", status=404)
    retire(client, staff, "D01", "D02", status=422, reason="")  # a reason is required
    # K01 assists an open complaint: it needs a successor. D03 has no open work: retired without one, it
    # cannot take over D01's.
    assert "尚有未办结投诉 1 件" in retire(client, staff, "K01", None, status=422)["message"]
    assert retire(client, staff, "D03", None)["complaints"] == 0
    assert "已停用或已撤并" in retire(client, staff, "D01", "D03", status=422)["message"]
    # D04 under D03 under D01... retiring D00 into D04 would put D01 under D04 and D04 under D01.
    add_department(session, "D04", "市房屋征收中心", "D01")
    assert "循环" in retire(client, staff, "D00", "D04", status=422)["message"]

    assert dept(session, "D01").active
    assert dept(session, "D00").active
    assert session.exec(select(CaseEvent).where(CaseEvent.event == SUCCEEDED_EVENT)).all() == []
    assert succession_mails(session) == []


def test_a_successor_under_the_retired_department_takes_its_place(
    client: TestClient, staff: Staff, session: Session
) -> None:
    answer = retire(client, staff, "D00", "D01")
    assert answer["departments"] == ["D02"]
    assert dept(session, "D01").competent_id is None  # D00 had no 主管部门 of its own
    assert dept(session, "D02").competent_id == dept(session, "D01").id


def test_running_twice_moves_nothing_and_another_successor_is_refused(
    client: TestClient, staff: Staff, session: Session, world: dict[str, int]
) -> None:
    retire(client, staff, "D01", "D02")
    again = retire(client, staff, "D01", "D02")
    assert (again["already_retired"], again["complaints"], again["pledges"], again["departments"]) == (
        True, 0, 0, [],
    )  # fmt: skip
    assert again["notification_id"] is None
    assert "已撤并" in retire(client, staff, "D01", "D00", status=409)["message"]
    assert len(succession_mails(session)) == 1
    assert len(events(session, "complaint", world["led"])) == 1


@pytest.mark.usefixtures("world")
def test_admin_page_retires_with_a_form_and_shows_the_successor(client: TestClient, staff: Staff) -> None:
    sign_in(client, staff.admin)
    page = client.get("/staff/admin/departments")
    assert 'action="/staff/admin/departments/D01/retire"' in page.text
    page = post_form(
        client, "/staff/admin/departments/D01/retire",
        {"successor_code": "", "reason": REASON, "confirmed": "yes"},
        page="/staff/admin/departments",
    )  # fmt: skip
    assert page.status_code == 422
    assert "必须指定承接部门" in page.text
    page = post_form(
        client, "/staff/admin/departments/D01/retire",
        {"successor_code": "D02", "reason": REASON, "confirmed": "yes"},
        page="/staff/admin/departments",
    )  # fmt: skip
    assert page.status_code == 200, page.text
    assert "移交未办结投诉 2 件、告知承诺 1 件、公示中的失信记录 0 件、下属部门 1 个" in page.text
    # The dispatch mails still queued to D01 go to D02 now, and the page says so.
    assert "封通知已改发承接部门" in page.text
    assert "住建经办人" in page.text  # the account still to move
    assert "已撤并 → D02 市财政局" in page.text
    assert 'action="/staff/admin/departments/D01/retire"' not in page.text


def test_the_successor_column_migrates_down_and_up(empty_database: str) -> None:
    engine = make_engine(empty_database)
    upgrade(engine)

    def columns() -> set[str]:
        return {c["name"] for c in inspect(engine).get_columns("department")}

    assert "successor_id" in columns()
    _downgrade(engine, "0023_complaint_merged_into_index")
    assert "successor_id" not in columns()
    upgrade(engine)
    assert "successor_id" in columns()
    engine.dispose()


@pytest.fixture
def pinned(monkeypatch: pytest.MonkeyPatch) -> None:
    """The retirement's day is the day the API's clock pins (2026-03-02), not the wall clock's."""
    monkeypatch.setenv("SHOUXIN_TODAY", TODAY.isoformat())
    get_settings.cache_clear()


def _object(client: TestClient, session: Session, record: PublishedBreach, status: int = 201) -> None:
    body = {"access_code": access_code(session, record), "reason": "已按期提交材料"}
    response = client.post(f"{API}/public/breaches/{record.number}/objection", json=body)
    assert response.status_code == status, response.text


def _decide(client: TestClient, staff: Staff, who: str, record_id: int | None, status: int) -> None:
    response = client.post(
        f"{API}/breaches/{record_id}/actions/uphold_withdraw", json={"reason": "材料已按期提交"},
        headers=staff.auth(who),
    )  # fmt: skip
    assert response.status_code == status, response.text


def _queue(client: TestClient, staff: Staff, who: str) -> set[str]:
    return {i["record_number"] for i in client.get(f"{API}/breaches", headers=staff.auth(who)).json()}


@pytest.mark.usefixtures("pinned")
def test_current_breach_records_move_to_the_successor_who_then_decides_and_hears_of_objections(
    client: TestClient, staff: Staff, session: Session, engine: Engine
) -> None:
    waiting, shown, withdrawn, lapsed = publish(
        engine, session, ("示范建设有限公司", CODE), ("另一建设有限公司", "91110000100000000R"),
        ("张小三", None), ("李四", None),
    )  # fmt: skip
    _object(client, session, waiting)
    _object(client, session, withdrawn)
    _decide(client, staff, "handler", withdrawn.id, 200)
    stored = session.get(PublishedBreach, lapsed.id)
    assert stored is not None
    stored.publication_end = dt.date(2026, 2, 27)  # past its GSJZQ, not yet recorded as expired
    session.add(stored)
    session.commit()

    answer = retire(client, staff, "D01", "D02")

    assert answer["records"] == 2
    old, successor = dept(session, "D01").id, dept(session, "D02").id
    holders = {r.number: r.department_id for r in session.exec(select(PublishedBreach)).all()}
    assert holders == {
        waiting.number: successor,
        shown.number: successor,
        withdrawn.number: old,
        lapsed.number: old,
    }
    for record in (waiting, shown):
        assert record.id is not None
        (event,) = events(session, "breach", record.id)
        assert (event.data, event.from_state == event.to_state) == (
            {"from": "D01", "to": "D02", "reason": REASON},
            True,
        )
    for record in (withdrawn, lapsed):
        assert record.id is not None
        assert events(session, "breach", record.id) == []
    assert verify_audit(session=session).ok
    (mail,) = succession_mails(session)
    assert (mail.context["record_count"], set(mail.context["record_numbers"])) == (
        2,
        {waiting.number, shown.number},
    )

    # The successor's handler lists and decides them; the retired department's no longer does.
    assert _queue(client, staff, "handler2") >= {waiting.number, shown.number}
    assert _queue(client, staff, "handler") & {waiting.number, shown.number} == set()
    _decide(client, staff, "handler", waiting.id, 404)
    _decide(client, staff, "handler2", waiting.id, 200)
    # An objection filed now reaches the successor's mailbox.
    _object(client, session, shown)
    session.expire_all()
    told = session.exec(
        select(Notification).where(
            Notification.template == "breach_request_received", Notification.case_number == shown.number
        )
    ).one()
    assert told.recipient_email == "czj@example.gov.cn"
    # The record's timeline on the staff page says what happened, in words.
    sign_in(client, staff.handler2)
    assert "认定部门撤并，由承接部门继续办理（机构改革）" in client.get(f"/staff/breaches/{shown.id}").text


@pytest.mark.usefixtures("pinned")
def test_no_successor_is_refused_while_an_objection_waits_on_the_department(
    client: TestClient, staff: Staff, session: Session, engine: Engine
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    _object(client, session, record)

    refused = retire(client, staff, "D01", None, status=422)

    assert "待决定的信用记录异议或修复申请 1 件" in refused["message"]
    assert dept(session, "D01").active


def test_a_complaint_about_a_retired_department_is_registered_against_its_successor(
    client: TestClient, staff: Staff, session: Session
) -> None:
    retire(client, staff, "D01", "D02")
    retire(client, staff, "D02", "K01")  # a second reorganisation: D01's work is now K01's

    cid = int(register(client, staff, respondent_department_code="D01")["id"])

    case = session.get(Complaint, cid)
    assert case is not None
    assert case.respondent_department_id == dept(session, "K01").id
    (registered,) = session.exec(
        select(CaseEvent).where(CaseEvent.case_kind == "complaint", CaseEvent.case_id == cid)
    ).all()
    codes = registered.data["respondent_department_code_given"], registered.data["respondent_department_code"]
    assert codes == ("D01", "K01")
    assert "按承接部门 K01" in (registered.note or "")
    # The 12345 platform keeps its old department list: its order naming D01 is registered too.
    order = post_order(client, new_hotline_token(session), respondent_department_code="D01")
    assert order.status_code == 201, order.text
    # Dispatch names the department to work the case: a retired one is refused, naming who took over.
    act(client, staff, "intake", cid, "accept")
    refused = act(client, staff, "intake", cid, "dispatch", status=422, lead_department_code="D02")
    assert "已撤并，由 K01" in refused["message"]
    assert "请改用 K01" in refused["message"]


def test_a_complaint_about_a_department_retired_without_successor_is_refused(
    client: TestClient, staff: Staff, session: Session
) -> None:
    add_department(session, "D03", "市住房保障中心", None)
    retire(client, staff, "D03", None)

    response = client.post(
        f"{API}/complaints", json={**BODY, "respondent_department_code": "D03"}, headers=staff.auth("intake")
    )

    assert response.status_code == 422
    assert "已撤并；请选择启用中的部门" in response.json()["message"]


def test_a_successor_never_becomes_the_deciding_department_of_a_finding_against_itself(
    client: TestClient, staff: Staff, session: Session
) -> None:
    from tests.test_government_credit import confirmed

    add_department(session, "C00", "市政府办公室", None)
    add_department(session, "D00", "市发展和改革委员会", "C00")  # D01 is under D00, D00 under C00
    confirmed(client, staff, severity="general")  # against D01, decided by its 主管部门 D00
    [record] = session.exec(select(PublishedBreach)).all()
    assert record.department_id == dept(session, "D00").id

    retire(client, staff, "D00", "D01")  # D01 takes D00's place under C00

    session.expire_all()
    moved = session.get(PublishedBreach, record.id)
    assert moved is not None
    assert moved.department_id == dept(session, "C00").id  # D01's 主管部门 now, as a new finding would get
    queue = client.get(f"{API}/breaches", headers=staff.auth("handler")).json()  # D01's handler
    assert record.number not in [item["record_number"] for item in queue]

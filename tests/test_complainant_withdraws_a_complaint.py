"""投诉人撤回: intake staff or a supervisor record the complainant's withdrawal before the complaint is
verified; the case ends 撤回办结, the complainant and the departments holding it are told, 12345 gets the
order's closing. Once verified it goes on (the breach is the credit office's matter), and a case other
complaints were merged into goes on for them; a complaint merged into another leaves it."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.calendar import load_calendar
from models.clock import Clock, iso_date, utcnow
from models.complaint import Complaint
from models.complaints import act as act_on
from models.complaints import register_complaint
from models.complaints.bodies import MergeBody, RejectBody, WithdrawBody
from models.complaints.context import ActionContext
from models.dashboard import overdue_complaints
from models.errors import Conflict
from models.hotline import HotlineMessage
from models.lifecycle import Role
from models.outbox import Notification
from models.scorecard import department_scores
from models.workflow import Actor
from notifications.render import render
from tests.conftest import TODAY, Staff
from tests.test_complaints_api import API, act, dispatched_and_signed, get, register
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_merge_and_rate_limit_races import separate_engine  # noqa: F401 - a fixture
from tests.test_supervision import DATA
from tests.web_support import post_form, sign_in

REASON = "所欠工程款已于3月10日全额支付，申请撤回投诉。"
INTAKE = Actor(name="受理员甲", role=Role.INTAKE)


def _mails(session: Session, cid: int, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_id == cid, Notification.template == template)
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def _events(session: Session, cid: int, name: str) -> list[CaseEvent]:
    session.expire_all()
    stmt = select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == name)
    return list(session.exec(stmt.order_by(col(CaseEvent.seq))).all())


def _track(client: TestClient, created: dict[str, Any]) -> dict[str, Any]:
    good = {"number": created["number"], "password": created["tracking_password"]}
    response = client.post(f"{API}/public/complaints/track", json=good)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _hotline(session: Session, cid: int) -> list[HotlineMessage]:
    session.expire_all()
    stmt = select(HotlineMessage).where(HotlineMessage.complaint_id == cid)
    return list(session.exec(stmt.order_by(col(HotlineMessage.id))))


def test_a_dispatched_complaint_withdrawn_is_closed_the_complainant_told_and_the_lead_told_to_stop(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = register(client, staff)
    cid = created["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")

    c = act(client, staff, "intake", cid, "withdraw", reason=REASON)

    assert c["state"] == "closed_withdrawn"
    case = get(session, cid)
    assert case.closed_at is not None
    assert (case.stage_deadline, case.deadline_pending, case.satisfaction) == (None, False, None)
    [event] = _events(session, cid, "withdraw")
    assert (event.note, event.data["reason"], event.data["withdrawn_in"]) == (REASON, REASON, "dispatched")
    [told] = _mails(session, cid, "complaint_withdrawn")
    assert told.recipient_kind == "complainant"
    text = render(told.template, told.context).text
    assert "撤回办结" in text
    assert REASON in text
    [stop] = _mails(session, cid, "complaint_withdrawn_department")
    assert stop.recipient_name == "市住房和城乡建设局"
    assert "请停止办理" in render(stop.template, stop.context).text
    tracked = _track(client, created)
    assert tracked["state_label"] == "撤回办结"
    assert tracked["steps"][-1]["label"] == "投诉人撤回"
    assert tracked["stage_deadline"] is None


def test_a_signed_complaint_withdrawn_tells_the_verifying_department_to_stop_too(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)

    act(client, staff, "supervisor", cid, "withdraw", reason=REASON)

    stops = _mails(session, cid, "complaint_withdrawn_department")
    assert [(m.recipient_name, m.context["role_label"]) for m in stops] == [
        ("市住房和城乡建设局", "主办"),
        ("市发展和改革委员会", "核实"),
    ]


def test_a_complaint_withdrawn_before_dispatch_tells_no_department(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]

    assert act(client, staff, "intake", cid, "withdraw", reason=REASON)["state"] == "closed_withdrawn"

    assert _mails(session, cid, "complaint_withdrawn_department") == []
    assert len(_mails(session, cid, "complaint_withdrawn")) == 1


def test_a_withdrawal_needs_the_complainants_reason_and_intake_or_a_supervisor(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)

    act(client, staff, "intake", cid, "withdraw", status=422)
    act(client, staff, "intake", cid, "withdraw", status=422, reason="\u200b \u3000")
    act(client, staff, "intake", cid, "withdraw", status=422, reason="已付款\x00")
    refused = act(client, staff, "handler", cid, "withdraw", status=403, reason=REASON)
    assert "投诉人撤回" in refused["message"]

    assert get(session, cid).state == "signed"
    assert _events(session, cid, "withdraw") == []


def test_a_verified_complaint_is_not_withdrawn_and_the_refusal_says_why_and_what_to_do(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")

    refused = act(client, staff, "intake", cid, "withdraw", status=409, reason=REASON)

    assert "不因投诉人撤回而终止" in refused["message"]
    assert "答复投诉人" in refused["message"]
    assert get(session, cid).state == "verified"


def test_a_pause_may_be_withdrawn_only_if_it_began_before_verification(
    client: TestClient, staff: Staff, session: Session
) -> None:
    early = register(client, staff)["id"]
    act(client, staff, "intake", early, "await_complainant", reason="请补充合同")
    assert act(client, staff, "intake", early, "withdraw", reason=REASON)["state"] == "closed_withdrawn"
    assert get(session, early).paused_from_state is None
    assert _events(session, early, "withdraw")[0].data["withdrawn_in"] == "registered"

    late = dispatched_and_signed(client, staff)
    act(client, staff, "competent", late, "verify_true")
    act(client, staff, "supervisor", late, "await_complainant", reason="请补充付款凭证")
    refused = act(client, staff, "intake", late, "withdraw", status=422, reason=REASON)
    assert "暂停前处于“核实属实（待责令整改）”" in refused["message"]
    assert "恢复办理" in refused["message"]
    # Not offered while it would be refused: the 409/422 says why, as the case page does.
    offered = client.get(f"{API}/complaints/{late}/actions", headers=staff.auth("intake")).json()
    assert "withdraw" not in [a["event"] for a in offered]


def _replied_untrue(client: TestClient, staff: Staff, cid: int) -> None:
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同款项已按约支付")
    act(client, staff, "handler", cid, "reply", reply_text="经核实，款项已按合同约定支付。")


def test_a_case_verified_before_it_was_redone_or_reopened_is_not_withdrawn_nor_offered_it(
    client: TestClient, staff: Staff, session: Session
) -> None:
    redone = dispatched_and_signed(client, staff)
    _replied_untrue(client, staff, redone)
    act(client, staff, "intake", redone, "redo", reason="投诉人对答复不满意")
    reopened = dispatched_and_signed(client, staff)
    _replied_untrue(client, staff, reopened)
    act(client, staff, "intake", reopened, "close", satisfaction="满意")
    act(client, staff, "supervisor", reopened, "reopen", reason="投诉人反映仍未付款")

    for cid, state in ((redone, "signed"), (reopened, "reopened")):
        refused = act(client, staff, "intake", cid, "withdraw", status=422, reason=REASON)
        assert "此前已“核实不属实”" in refused["message"]
        assert "不因投诉人撤回而终止" in refused["message"]
        assert get(session, cid).state == state
        assert _events(session, cid, "withdraw") == []
        offered = client.get(f"{API}/complaints/{cid}/actions", headers=staff.auth("supervisor")).json()
        assert "withdraw" not in [a["event"] for a in offered]
    # The work queue leaves it out too (its rows' verifications read in one statement for the page).
    [row] = [
        t for t in client.get(f"{API}/tasks", headers=staff.auth("intake")).json() if t["id"] == reopened
    ]
    assert row["actions"] == ["dispatch"]


def test_a_merged_complaint_is_not_withdrawn_once_the_case_it_joined_has_ended_or_is_verified(
    client: TestClient, staff: Staff, session: Session
) -> None:
    token = new_hotline_token(session)
    first: dict[str, Any] = post(client, token).json()
    second: dict[str, Any] = post(client, token, order_id="GD2").json()
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "accept")
    act(client, staff, "intake", first["id"], "dispatch", lead_department_code="D01")
    act(client, staff, "handler", first["id"], "sign_for")
    act(client, staff, "competent", first["id"], "verify_untrue", explanation="合同款项已按约支付")

    verified = act(client, staff, "intake", second["id"], "withdraw", status=422, reason=REASON)
    assert f"已并入案件 {first['number']}" in verified["message"]
    assert "不因投诉人撤回而终止" in verified["message"]

    act(client, staff, "handler", first["id"], "reply", reply_text="经核实，款项已按合同约定支付。")
    act(client, staff, "intake", first["id"], "close", satisfaction="满意")
    ended = act(client, staff, "intake", second["id"], "withdraw", status=422, reason=REASON)
    assert f"已并入案件 {first['number']}" in ended["message"]
    assert "随之结束" in ended["message"]

    case = get(session, second["id"])
    assert (case.state, case.merged_into_id) == ("merged", first["id"])
    assert _mails(session, second["id"], "complaint_withdrawn") == []
    # 12345 closed the order once, with the case it joined.
    assert [m.stage for m in _hotline(session, second["id"])].count("closed") == 1


def test_a_merged_complaint_withdrawn_while_the_case_it_joined_is_rejected_is_refused(
    separate_engine: Engine,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with Session(separate_engine, expire_on_commit=False) as session:
        calendar = load_calendar(session=session)
        target, _ = register_complaint(
            session=session, data=DATA, actor=INTAKE, today=TODAY, calendar=calendar
        )
        dup, _ = register_complaint(session=session, data=DATA, actor=INTAKE, today=TODAY, calendar=calendar)
        act_on(session=session, complaint_id=dup.id or 0, action="merge",
               body=MergeBody(target_number=target.number), actor=INTAKE, today=TODAY,
               calendar=calendar)  # fmt: skip
        session.commit()
    real_fire = ActionContext.fire

    def reject_target_first(self: ActionContext, event: str, *args: Any, **kwargs: Any) -> CaseEvent:
        # The withdrawal has checked the case the complaint joined and written nothing yet: another clerk
        # rejects that case, telling its merged complainants too, and commits in that moment.
        if event == "withdraw":
            with Session(separate_engine) as other:
                act_on(session=other, complaint_id=target.id or 0, action="reject",
                       body=RejectBody(reason="属于诉讼范围", route="litigation"), actor=INTAKE, today=TODAY,
                       calendar=load_calendar(session=other))  # fmt: skip
                other.commit()
        return real_fire(self, event, *args, **kwargs)

    monkeypatch.setattr(ActionContext, "fire", reject_target_first)
    with Session(separate_engine) as session, pytest.raises(Conflict, match="所并入的案件.*已被他人更新"):
        act_on(session=session, complaint_id=dup.id or 0, action="withdraw", body=WithdrawBody(reason=REASON),
               actor=INTAKE, today=TODAY, calendar=load_calendar(session=session))  # fmt: skip

    with Session(separate_engine) as session:
        left = session.get(Complaint, dup.id)
        assert left is not None
        assert (left.state, left.merged_into_id) == ("merged", target.id)
        assert _mails(session, dup.id or 0, "complaint_withdrawn") == []
        assert len(_mails(session, dup.id or 0, "complaint_not_accepted")) == 1


def test_a_merged_complaints_withdrawal_refuses_a_stale_action_on_the_case_it_joined(
    separate_engine: Engine,  # noqa: F811
) -> None:
    with Session(separate_engine, expire_on_commit=False) as session:
        calendar = load_calendar(session=session)
        target, _ = register_complaint(
            session=session, data=DATA, actor=INTAKE, today=TODAY, calendar=calendar
        )
        dup, _ = register_complaint(session=session, data=DATA, actor=INTAKE, today=TODAY, calendar=calendar)
        act_on(session=session, complaint_id=dup.id or 0, action="merge",
               body=MergeBody(target_number=target.number), actor=INTAKE, today=TODAY,
               calendar=calendar)  # fmt: skip
        session.commit()
        read_at = session.get(Complaint, target.id)
        assert read_at is not None
    with Session(separate_engine) as session:
        act_on(session=session, complaint_id=dup.id or 0, action="withdraw", body=WithdrawBody(reason=REASON),
               actor=INTAKE, today=TODAY, calendar=load_calendar(session=session))  # fmt: skip
        session.commit()
    # A clerk who read the case before the complainant left it would still tell them of its rejection.
    with Session(separate_engine) as session, pytest.raises(Conflict):
        act_on(session=session, complaint_id=target.id or 0, action="reject",
               body=RejectBody(reason="属于诉讼范围", route="litigation", expected_version=read_at.version),
               actor=INTAKE, today=TODAY, calendar=load_calendar(session=session))  # fmt: skip


def test_a_case_other_complaints_were_merged_into_is_not_withdrawn(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = register(client, staff)
    second = register(client, staff)
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])

    refused = act(client, staff, "intake", first["id"], "withdraw", status=422, reason=REASON)

    assert second["number"] in refused["message"]
    assert "不能代表其他投诉人" in refused["message"]
    assert get(session, first["id"]).state == "registered"


def test_a_merged_complaint_withdrawn_leaves_the_case_it_joined_and_hears_no_more_of_it(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = register(client, staff)
    second = register(client, staff)
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])

    c = act(client, staff, "intake", second["id"], "withdraw", reason=REASON)

    assert c["state"] == "closed_withdrawn"
    assert get(session, second["id"]).merged_into_id is None
    [told] = _mails(session, second["id"], "complaint_withdrawn")
    assert told.context["target_number"] == first["number"]
    assert first["number"] in render(told.template, told.context).text
    # The case it joined goes on without it: its reply and closing reach only its own complainant.
    act(client, staff, "intake", first["id"], "accept")
    act(client, staff, "intake", first["id"], "dispatch", lead_department_code="D01")
    act(client, staff, "handler", first["id"], "sign_for")
    act(client, staff, "competent", first["id"], "verify_untrue", explanation="合同款项已按约支付")
    act(client, staff, "handler", first["id"], "reply", reply_text="经核实，款项已按合同约定支付。")
    act(client, staff, "intake", first["id"], "close", satisfaction="满意")
    assert _mails(session, second["id"], "complaint_replied") == []
    assert _mails(session, second["id"], "complaint_closed") == []
    tracked = _track(client, second)
    assert (tracked["state_label"], tracked["merged_into"], tracked["reply_text"]) == ("撤回办结", None, None)


def test_a_12345_order_withdrawn_is_closed_on_the_platform_without_a_satisfaction(
    client: TestClient, staff: Staff, session: Session
) -> None:
    token = new_hotline_token(session)
    first: dict[str, Any] = post(client, token).json()
    second: dict[str, Any] = post(client, token, order_id="GD2").json()
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "accept")

    act(client, staff, "intake", second["id"], "withdraw", reason=REASON)
    act(client, staff, "intake", first["id"], "dispatch", lead_department_code="D01")
    act(client, staff, "intake", first["id"], "withdraw", reason=REASON)

    merged = _hotline(session, second["id"])
    # The first case's acceptance still reached it; its dispatch, after the withdrawal, does not.
    assert [m.stage for m in merged] == ["merged", "accepted", "closed"]
    closing = merged[-1].payload
    assert (closing["event"], closing["result"]) == ("withdraw", "closed_withdrawn")
    assert closing["satisfaction"] is None
    assert closing["order_id"] == "GD2"
    own = _hotline(session, first["id"])
    assert [m.stage for m in own] == ["accepted", "dispatched", "closed"]
    assert (own[-1].payload["result"], own[-1].payload["satisfaction"]) == ("closed_withdrawn", None)


def test_a_withdrawn_complaint_may_be_reopened_by_a_supervisor_and_goes_on_where_it_left(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "intake", cid, "withdraw", reason=REASON)

    act(client, staff, "intake", cid, "reopen", status=403, reason="投诉人称撤回并非本人意愿")
    c = act(client, staff, "supervisor", cid, "reopen", reason="投诉人称撤回并非本人意愿")

    assert c["state"] == "reopened"
    assert get(session, cid).closed_at is None


def test_a_complaint_withdrawn_before_its_initial_review_is_reopened_to_that_review(
    client: TestClient, staff: Staff, session: Session
) -> None:
    token = new_hotline_token(session)
    fresh: dict[str, Any] = post(client, token).json()
    paused = register(client, staff)
    first_review = get(session, paused["id"]).stage_deadline
    assert first_review is not None
    act(client, staff, "intake", paused["id"], "await_complainant", reason="请补充合同")
    for created in (fresh, paused):
        act(client, staff, "intake", created["id"], "withdraw", reason=REASON)

        c = act(client, staff, "supervisor", created["id"], "reopen", reason="投诉人称撤回并非本人意愿")

        # Nobody accepted it: 受理/不予受理/并单 are owed, on a new 初审 deadline, not the dispatch of 已重启.
        assert (c["state"], c["stage_deadline"]) == ("registered", iso_date(first_review))
        offered = client.get(f"{API}/complaints/{created['id']}/actions", headers=staff.auth("intake")).json()
        assert {"accept", "reject", "merge"} <= {a["event"] for a in offered}
        assert "dispatch" not in {a["event"] for a in offered}
        [back] = _events(session, created["id"], "return_to_review")
        assert (back.from_state, back.to_state, back.actor_role) == ("reopened", "registered", "system")
    # 12345 hears of the reopening once.
    assert [m.stage for m in _hotline(session, fresh["id"])] == ["closed", "reopened"]


def test_a_merged_complaint_withdrawn_and_reopened_is_reviewed_as_a_case_of_its_own(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first, second = register(client, staff), register(client, staff)
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", second["id"], "withdraw", reason=REASON)

    c = act(client, staff, "supervisor", second["id"], "reopen", reason="投诉人称撤回并非本人意愿")

    # It left the case it joined: nobody accepted it on its own, so its first review is owed.
    assert c["state"] == "registered"
    offered = client.get(f"{API}/complaints/{second['id']}/actions", headers=staff.auth("intake")).json()
    assert {"accept", "reject", "merge"} <= {a["event"] for a in offered}


def test_the_scorecard_and_dashboard_count_a_withdrawal_as_closed_unrated_and_never_overdue(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "intake", cid, "withdraw", reason=REASON)
    session.expire_all()

    later = dt.date(2026, 6, 1)
    [row] = [r for r in department_scores(session=session, today=later) if r.code == "D01"]
    assert (row.closed_withdrawn, row.closed, row.rated, row.ended) == (1, 0, 0, 0)
    assert row.on_time == 1
    assert overdue_complaints(session=session, today=later, calendar=load_calendar(session=session)) == []


def test_the_scorecard_page_and_its_export_show_the_withdrawals(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "intake", cid, "withdraw", reason=REASON)
    sign_in(client, staff.supervisor)
    # Rows and events are stamped with the real time, not the pinned today.
    today = Clock.from_settings().local_date(utcnow())

    page = client.get(f"/staff/scorecard?period=month&at={today.isoformat()}")
    assert page.status_code == 200
    assert "<th>撤回办结</th>" in page.text
    assert '<td data-label="撤回办结">1</td>' in page.text
    export = client.get(f"/staff/scorecard.xlsx?period=month&at={today.isoformat()}")
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    [d01] = [r for r in rows if r[0] == "D01"]
    assert d01[header.index("撤回办结")] == 1
    assert d01[header.index("办结件数")] == 0


def test_the_staff_case_page_offers_the_withdrawal_with_its_reason_field(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    sign_in(client, staff.intake)

    page = client.get(f"/staff/complaints/{cid}")
    assert page.status_code == 200
    form = page.text.split(f'action="/staff/complaints/{cid}/act/withdraw"', 1)[1].split("</form>", 1)[0]
    assert 'name="reason"' in form
    response = post_form(
        client, f"/staff/complaints/{cid}/act/withdraw", {"reason": REASON}, page=f"/staff/complaints/{cid}"
    )
    assert response.status_code == 303, response.text

    assert get(session, cid).state == "closed_withdrawn"
    assert "撤回办结" in client.get(f"/staff/complaints/{cid}").text

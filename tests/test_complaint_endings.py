"""Complaints that cannot end satisfied still end (不满意办结, 无法联系办结), and 拒不整改 is confirmed only
on its grounds, after which the department explains in writing and rectifies within a deadline, chased by
the ladder. The days are walked with the pinned clock (March 2026 has no holidays; 03-07/08 are a weekend)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.complaints import supervise_batch, supervision_ids
from models.org import Department
from models.outbox import Notification, NotificationStatus
from models.settings import get_settings
from models.workflow import Actor
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaints_api import API, act, dispatched_and_signed, events, get, register, set_today


def _mails(session: Session, cid: int, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_id == cid, Notification.template == template)
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def _event(session: Session, cid: int, name: str) -> CaseEvent:
    session.expire_all()
    stmt = select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == name)
    return session.exec(stmt.order_by(col(CaseEvent.seq).desc())).first()  # type: ignore[return-value]


def _track(client: TestClient, created: dict[str, Any]) -> dict[str, Any]:
    good = {"number": created["number"], "password": created["tracking_password"]}
    response = client.post(f"{API}/public/complaints/track", json=good)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def _rectifying(client: TestClient, staff: Staff, days: int = 5) -> int:
    """A case ordered on Monday 2026-03-02 to rectify within ``days`` working days."""
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", deadline_days=days, requirements="限期付款")
    return cid


def _replied(client: TestClient, staff: Staff, **overrides: Any) -> dict[str, Any]:
    created = register(client, staff, **overrides)
    _reply_to(client, staff, created["id"])
    return created


def _reply_to(client: TestClient, staff: Staff, cid: int) -> None:
    """Take a registered complaint through to its reply (found untrue: the quickest way there)."""
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同款项已按约支付")
    act(client, staff, "handler", cid, "reply", reply_text="经核实，款项已按合同约定支付。")


# ------------------------------------------------------------------------------------------- 拒不整改


def test_refusal_before_the_deadline_needs_its_evidence(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _rectifying(client, staff)  # rectification due 2026-03-09
    refused = act(client, staff, "supervisor", cid, "confirm_breach", status=422, reason="拒不整改")
    assert "整改期限（2026-03-09）尚未届满" in refused["message"]
    # A note alone is no evidence: a file or a document reference must come with it.
    act(client, staff, "competent", cid, "record_refusal", status=422, refusal_facts="电话表示不予整改")
    act(
        client, staff, "handler2", cid, "record_refusal", status=404, refusal_facts="x" * 5, attachments=["a"]
    )
    act(
        client,
        staff,
        "competent",
        cid,
        "record_refusal",
        refusal_facts="书面回复拒绝支付",
        attachments=["回函.pdf"],
    )
    c = act(client, staff, "supervisor", cid, "confirm_breach", reason="明确拒绝整改", severity="serious")
    assert (c["state"], c["breach_confirmed"]) == ("explanation_ordered", True)
    assert "回函.pdf" in c["attachments"]
    assert _event(session, cid, "record_refusal").data["attachments"] == ["回函.pdf"]
    confirmed = _event(session, cid, "confirm_breach")
    assert confirmed.data["grounds"] == "refusal_recorded"
    # The department explains in writing and rectifies within 10 working days (the `explanation` rule).
    assert c["stage_deadline"] == "2026-03-16"
    [order] = _mails(session, cid, "breach_explanation_order")
    assert order.recipient_name == "市住房和城乡建设局"
    message = render(order.template, order.context)
    assert "书面说明违约失信原因" in message.text
    assert "2026年3月16日" in message.text
    assert "失信程度：严重" in message.text
    # Only the lead department reports; then the reply to the complainant follows as before.
    act(
        client,
        staff,
        "competent",
        cid,
        "submit_explanation",
        status=403,
        written_explanation="不予说明",
        rectification="不予整改",
    )
    c = act(
        client, staff, "handler", cid, "submit_explanation",
        written_explanation="因财政资金未到位延误支付", rectification="已于3月12日全额支付",
        attachments=["付款凭证.pdf"],
    )  # fmt: skip
    assert c["state"] == "breach_confirmed"
    act(client, staff, "handler", cid, "reply", reply_text="已确认违约失信，责任单位已整改。")
    assert events(session, cid)[-4:] == ["record_refusal", "confirm_breach", "submit_explanation", "reply"]


def test_breach_is_confirmed_without_a_recorded_refusal_once_the_deadline_has_passed(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _rectifying(client, staff)  # due Monday 2026-03-09, by the end of that day
    set_today(client, dt.date(2026, 3, 9))
    act(client, staff, "supervisor", cid, "confirm_breach", status=422, reason="期限届满仍拒不整改")
    set_today(client, dt.date(2026, 3, 10))
    c = act(client, staff, "supervisor", cid, "confirm_breach", reason="期限届满仍拒不整改")
    assert c["state"] == "explanation_ordered"
    assert c["stage_deadline"] == "2026-03-24"  # 10 working days after Tuesday 03-10
    data = _event(session, cid, "confirm_breach").data
    assert (data["grounds"], data["rectification_deadline"]) == ("deadline_passed", "2026-03-09")


def test_a_refusal_recorded_in_an_earlier_rectification_period_does_not_count(
    client: TestClient, staff: Staff
) -> None:
    cid = _rectifying(client, staff, days=10)
    act(
        client,
        staff,
        "competent",
        cid,
        "record_refusal",
        refusal_facts="拒绝整改",
        document_reference="住建函〔2026〕8号",
    )
    act(client, staff, "handler", cid, "report_rectification", evidence="已支付部分款项")
    act(client, staff, "supervisor", cid, "send_back", reason="仍有欠款未付")  # a new rectification period
    act(client, staff, "supervisor", cid, "confirm_breach", status=422, reason="拒不整改")


def test_the_explanation_stage_climbs_the_ladder_and_its_period_is_a_setting(
    client: TestClient,
    staff: Staff,
    session: Session,
    calendar: WorkCalendar,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOUXIN_DEADLINE_OVERRIDES", '{"explanation": 5}')
    get_settings.cache_clear()
    cid = _rectifying(client, staff)
    act(
        client,
        staff,
        "competent",
        cid,
        "record_refusal",
        refusal_facts="拒绝整改",
        document_reference="住建函〔2026〕8号",
    )
    c = act(client, staff, "supervisor", cid, "confirm_breach", reason="拒不整改")
    assert c["stage_deadline"] == "2026-03-09"  # 5 working days after Monday 03-02
    system = Actor.system("run-ladder")
    steps: dict[str, str] = {}
    day = dt.date(2026, 3, 2)
    while day <= dt.date(2026, 3, 18):
        set_today(client, day)
        ids = supervision_ids(session=session)
        supervise_batch(session=session, ids=ids, actor=system, today=day, calendar=calendar)
        for name in ("warn_yellow", "warn_red", "remind", "supervise", "escalate"):
            event = _event(session, cid, name)
            if event is not None and name not in steps:
                steps[name] = day.isoformat()
        day += dt.timedelta(days=1)
    # Yellow on the last working day before the deadline; red and 催办 one working day late, 督办 three,
    # 提级办理 five (the weekend of 03-14/15 not counted).
    assert steps == {
        "warn_yellow": "2026-03-06",
        "warn_red": "2026-03-10",
        "remind": "2026-03-10",
        "supervise": "2026-03-12",
        "escalate": "2026-03-16",
    }
    case = get(session, cid)
    assert case.escalation_level == 3
    d00 = session.exec(select(Department).where(Department.code == "D00")).one()
    assert case.escalated_to_department_id == d00.id
    notices = _mails(session, cid, "supervision_notice")
    assert {n.recipient_name for n in notices} == {"市住房和城乡建设局"}
    superior = _mails(session, cid, "escalation_superior_notice")
    assert [n.recipient_name for n in superior] == ["市发展和改革委员会"]
    assert {n.context["stage_label"] for n in [*notices, *superior]} == {"书面说明原因并限期整改"}
    assert {n.context["step"] for n in _mails(session, cid, "escalation_alert")} == {"supervise", "escalate"}
    for template in (
        "deadline_warning",
        "supervision_notice",
        "escalation_superior_notice",
        "escalation_alert",
    ):
        for n in _mails(session, cid, template):
            render(n.template, n.context)


# ----------------------------------------------------------------------------------------- 不满意办结


def test_unsatisfied_close_after_the_redo_limit_with_a_reason(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = _replied(client, staff)
    cid = created["id"]
    for n in (1, 2):
        body = act(client, staff, "supervisor", cid, "close_unsatisfied", status=422, reason="投诉人仍不满意")
        assert f"本案已重办 {n - 1} 次" in body["message"]
        act(client, staff, "intake", cid, "redo", reason=f"第{n}次回访不满意")
        act(client, staff, "competent", cid, "verify_untrue", explanation="再次核实，款项已付清")
        act(client, staff, "handler", cid, "reply", reply_text="经再次核实，款项已付清。")
    act(client, staff, "intake", cid, "close_unsatisfied", status=403, reason="投诉人仍不满意")
    act(client, staff, "supervisor", cid, "close_unsatisfied", status=422)  # the reason is required
    set_today(client, dt.date(2026, 3, 4))
    c = act(
        client, staff, "supervisor", cid, "close_unsatisfied",
        reason="已两次重办，责任单位已依法履职，投诉人诉求超出政策范围",
    )  # fmt: skip
    assert (c["state"], c["redo_count"], c["satisfaction"]) == ("closed_unsatisfied", 2, "不满意")
    assert get(session, cid).closed_at is not None
    assert (
        _event(session, cid, "close_unsatisfied").note
        == "已两次重办，责任单位已依法履职，投诉人诉求超出政策范围"
    )
    [mail] = _mails(session, cid, "complaint_closed_unresolved")
    assert (mail.recipient_email, mail.status) == ("boss@example.com", NotificationStatus.PENDING)
    message = render(mail.template, mail.context)
    assert "不满意办结" in message.subject
    assert "诉求超出政策范围" in message.text
    tracked = _track(client, created)
    assert tracked["state_label"] == "不满意办结"
    assert tracked["steps"][-1]["label"] == "不满意办结"
    assert tracked["stage_deadline"] is None
    c = act(client, staff, "supervisor", cid, "reopen", reason="投诉人提交了新的证据")
    assert c["state"] == "reopened"


def test_the_redo_limit_is_a_setting(
    client: TestClient, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_UNSATISFIED_CLOSE_AFTER_REDOS", "0")
    get_settings.cache_clear()
    cid = _replied(client, staff)["id"]
    c = act(client, staff, "supervisor", cid, "close_unsatisfied", reason="投诉人诉求超出政策范围")
    assert c["state"] == "closed_unsatisfied"


# ----------------------------------------------------------------------------------------- 无法联系办结


def test_unreachable_close_after_attempts_on_three_different_working_days(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = _replied(client, staff, complainant_email=None)  # reached by phone only
    cid = created["id"]
    attempts = {
        dt.date(2026, 3, 2): "13800000001 无人接听",
        dt.date(2026, 3, 7): "周六回拨，无人接听",  # a rest day: recorded, not counted
        dt.date(2026, 3, 9): "13800000001 关机",
    }
    for day, note in attempts.items():
        set_today(client, day)
        act(client, staff, "intake", cid, "record_contact_attempt", contact_result=note)
        again = act(
            client, staff, "intake", cid, "record_contact_attempt", status=422, contact_result="再拨一次"
        )
        assert "已记录过一次联系未果" in again["message"]
        body = act(client, staff, "supervisor", cid, "close_unreachable", status=422)
        assert "须先在 3 个不同工作日联系投诉人未果" in body["message"]
    set_today(client, dt.date(2026, 3, 10))
    act(client, staff, "supervisor", cid, "record_contact_attempt", contact_result="13800000001 空号提示")
    act(client, staff, "intake", cid, "close_unreachable", status=403)
    c = act(client, staff, "supervisor", cid, "close_unreachable")
    assert (c["state"], c["satisfaction"]) == ("closed_unreachable", None)
    recorded = [
        (e.data["contact_day"], e.data["counted"], e.data["attempt"], e.note)
        for e in session.exec(
            select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == "record_contact_attempt")
        )
    ]
    assert recorded == [
        ("2026-03-02", True, 1, "13800000001 无人接听"),
        ("2026-03-07", False, 1, "周六回拨，无人接听"),
        ("2026-03-09", True, 2, "13800000001 关机"),
        ("2026-03-10", True, 3, "13800000001 空号提示"),
    ]
    days = ["2026-03-02", "2026-03-09", "2026-03-10"]
    assert _event(session, cid, "close_unreachable").data["contact_days"] == days
    # No address: the notice is kept as undeliverable for staff to see, never dropped.
    [mail] = _mails(session, cid, "complaint_closed_unresolved")
    assert (mail.recipient_email, mail.status) == (None, NotificationStatus.UNDELIVERABLE)
    message = render(mail.template, mail.context)
    assert "2026年3月2日、2026年3月9日、2026年3月10日" in message.text
    assert "无法联系办结" in message.subject
    tracked = _track(client, created)
    assert tracked["state_label"] == "无法联系办结"
    assert [s["label"] for s in tracked["steps"]][-2:] == ["记录联系投诉人未果", "无法联系办结"]


def test_attempts_count_again_after_a_redo(client: TestClient, staff: Staff) -> None:
    cid = _replied(client, staff)["id"]
    for day in (dt.date(2026, 3, 2), dt.date(2026, 3, 3)):
        set_today(client, day)
        act(client, staff, "intake", cid, "record_contact_attempt", contact_result="无人接听")
    act(client, staff, "intake", cid, "redo", reason="投诉人回电表示不满意")
    act(client, staff, "competent", cid, "verify_untrue", explanation="再次核实")
    act(client, staff, "handler", cid, "reply", reply_text="再次答复。")
    set_today(client, dt.date(2026, 3, 4))
    act(client, staff, "intake", cid, "record_contact_attempt", contact_result="无人接听")
    act(client, staff, "supervisor", cid, "close_unreachable", status=422)


# ------------------------------------------------------------------------------------------- 并单


def test_a_merged_complainant_is_told_and_gets_the_reply_of_the_case_it_joined(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = register(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])
    [told] = _mails(session, duplicate["id"], "complaint_merged")
    assert (told.recipient_name, told.context["target_number"]) == ("某某建材有限公司", first["number"])
    assert first["number"] in render("complaint_merged", told.context).text
    merged = _track(client, duplicate)
    assert (merged["merged_into"], merged["reply_text"]) == (first["number"], None)

    _reply_to(client, staff, first["id"])
    [copy] = _mails(session, duplicate["id"], "complaint_replied")
    assert (copy.recipient_name, copy.context["case_number"]) == ("某某建材有限公司", duplicate["number"])
    assert copy.context["reply_text"] == "经核实，款项已按合同约定支付。"
    replied = _track(client, duplicate)
    assert replied["reply_text"] == "经核实，款项已按合同约定支付。"
    assert replied["department_name"] == _track(client, first)["department_name"]


def test_a_complaint_merged_into_a_case_merged_later_still_gets_the_reply(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = register(client, staff)
    middle = register(client, staff, complainant_name="乙公司", complainant_email="b@ex.cn")
    last = register(client, staff, complainant_name="丙公司", complainant_email="c@ex.cn")
    act(client, staff, "intake", last["id"], "merge", target_number=middle["number"])
    act(client, staff, "intake", middle["id"], "merge", target_number=first["number"])
    _reply_to(client, staff, first["id"])
    for merged in (middle, last):
        [copy] = _mails(session, merged["id"], "complaint_replied")
        assert copy.context["case_number"] == merged["number"]
    tracked = _track(client, last)
    assert (tracked["merged_into"], tracked["reply_text"]) == (
        first["number"],
        "经核实，款项已按合同约定支付。",
    )


def test_complainants_merged_into_a_case_that_is_not_accepted_are_told_so_under_their_own_number(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first = register(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "reject", reason="该事项已进入诉讼程序。", route="litigation")
    [told] = _mails(session, duplicate["id"], "complaint_not_accepted")
    assert (told.recipient_name, told.context["case_number"]) == ("某某建材有限公司", duplicate["number"])
    assert "该事项已进入诉讼程序。" in render("complaint_not_accepted", told.context).text
    assert len(_mails(session, first["id"], "complaint_not_accepted")) == 1

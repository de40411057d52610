"""A complainant who is not satisfied is told the truth at every step (journey review, unsatisfied path):
a redo tells the lead, the verifier and every complainant, with the new deadline; the tracking page marks
the rejected reply as a previous one; the return-visit mail promises no online rating; complainants merged
into the case hear how it ended; and a closing mail states what really happened (a return visit or a
supplement awaited, the real number of redos). March 2026 has no holidays."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.outbox import Notification
from models.settings import get_settings
from notifications.catalogue import TEMPLATES
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaint_endings import _reply_to, _track
from tests.test_complaints_api import act, register, set_today
from tests.web_support import post_form

FIRST_REPLY = "经核实，款项已按合同约定支付。"


def _mails(session: Session, cid: int, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.case_id == cid, Notification.template == template)
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def _text(row: Notification) -> str:
    return render(row.template, row.context).text


def _redo_and_reply(client: TestClient, staff: Staff, cid: int, n: int) -> None:
    act(client, staff, "intake", cid, "redo", reason=f"第{n}次回访不满意")
    act(client, staff, "competent", cid, "verify_untrue", explanation="再次核实")
    act(client, staff, "handler", cid, "reply", reply_text=f"第{n + 1}次答复")


# ------------------------------------------------------------------------------------------------ 重办


def test_a_redo_tells_the_lead_the_verifier_and_the_complainant_with_the_new_deadline(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = register(client, staff)
    cid = created["id"]
    _reply_to(client, staff, cid)
    c = act(client, staff, "intake", cid, "redo", reason="付款时间与实际到账时间不符")
    assert (c["state"], c["redo_count"]) == ("signed", 1)
    deadline = dt.date.fromisoformat(c["stage_deadline"])

    told = {m.recipient_name: m for m in _mails(session, cid, "complaint_redo")}
    assert set(told) == {"市住房和城乡建设局", "市发展和改革委员会"}
    assert (told["市住房和城乡建设局"].context["role"], told["市发展和改革委员会"].context["role"]) == (
        "lead",
        "verifier",
    )
    verifier = _text(told["市发展和改革委员会"])
    assert "第1次重办" in verifier
    assert "付款时间与实际到账时间不符" in verifier  # the dissatisfaction reason
    assert FIRST_REPLY in verifier  # what was rejected
    assert f"请于{deadline.year}年{deadline.month}月{deadline.day}日前作出核实结论" in verifier
    assert "重新核实" in _text(told["市住房和城乡建设局"])

    [mine] = _mails(session, cid, "complaint_redone")
    assert mine.recipient_name == created["complainant_name"]
    text = _text(mine)
    assert "已退回重新办理（第1次重办）" in text
    assert f"{deadline.year}年{deadline.month}月{deadline.day}日" in text


def test_a_redo_into_a_year_not_loaded_says_the_deadline_waits_for_the_calendar(
    client: TestClient, staff: Staff, session: Session
) -> None:
    set_today(client, dt.date(2026, 12, 21))
    cid = register(client, staff)["id"]
    _reply_to(client, staff, cid)
    set_today(client, dt.date(2026, 12, 28))
    c = act(client, staff, "intake", cid, "redo", reason="回访不满意")
    assert (c["stage_deadline"], c["deadline_pending"]) == (None, True)
    for row in [*_mails(session, cid, "complaint_redo"), *_mails(session, cid, "complaint_redone")]:
        assert row.context["deadline"] is None
        assert "待日历确定" in _text(row)


def test_the_tracking_page_marks_the_rejected_reply_as_previous_while_the_case_is_redone(
    client: TestClient, staff: Staff
) -> None:
    created = register(client, staff)
    cid = created["id"]
    _reply_to(client, staff, cid)
    act(client, staff, "intake", cid, "redo", reason="回访不满意")
    tracked = _track(client, created)
    assert (tracked["state_label"], tracked["handled_again"], tracked["redo_count"]) == (
        "已签收（核实中）",
        "redo",
        1,
    )
    assert (tracked["reply_text"], tracked["previous_reply_text"]) == (None, FIRST_REPLY)
    good = {"number": created["number"], "password": created["tracking_password"]}
    page = post_form(client, "/track", good).text
    assert "正在重新办理（第 1 次重办）" in page
    assert 'id="previous-reply"' in page
    assert "不作为最终办理结果" in page
    assert 'id="reply"' not in page

    act(client, staff, "competent", cid, "verify_untrue", explanation="再次核实")
    act(client, staff, "handler", cid, "reply", reply_text="经再次核实，款项已于3月20日到账。")
    tracked = _track(client, created)
    assert (tracked["reply_text"], tracked["previous_reply_text"], tracked["handled_again"]) == (
        "经再次核实，款项已于3月20日到账。",
        None,
        None,
    )


# ------------------------------------------------------------------------------------------------ 回访


def test_the_return_visit_mail_says_replied_and_promises_no_online_rating(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    _reply_to(client, staff, cid)
    [row] = _mails(session, cid, "complaint_return_visit")
    message = render(row.template, row.context)
    for part in (message.text, message.html):
        assert "已答复" in part
        assert "已办结" not in part  # the case is 已答复（待回访）
        assert "进行评价" not in part
        assert "登录" not in part
        assert "回访时" in part
        assert "12345" in part


# ------------------------------------------------------------------------------------------------ 并单


def _merged_pair(client: TestClient, staff: Staff) -> tuple[dict[str, Any], dict[str, Any]]:
    first = register(client, staff)
    duplicate = register(client, staff, complainant_name="某某建材有限公司", complainant_email="jc@ex.cn")
    act(client, staff, "intake", duplicate["id"], "merge", target_number=first["number"])
    return first, duplicate


def test_a_merged_complainant_is_told_of_the_redo_and_the_unsatisfied_ending_and_follows_the_joined_case(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first, duplicate = _merged_pair(client, staff)
    _reply_to(client, staff, first["id"])
    act(client, staff, "intake", first["id"], "redo", reason="回访不满意")
    [redone] = _mails(session, duplicate["id"], "complaint_redone")
    assert (redone.context["case_number"], redone.context["target_number"]) == (
        duplicate["number"],
        first["number"],
    )
    assert "该投诉现已退回重新办理" in _text(redone)
    tracked = _track(client, duplicate)
    assert (tracked["state_label"], tracked["handled_again"]) == ("已签收（核实中）", "redo")
    assert tracked["stage_deadline"] == _track(client, first)["stage_deadline"]

    act(client, staff, "competent", first["id"], "verify_untrue", explanation="再次核实")
    act(client, staff, "handler", first["id"], "reply", reply_text="第2次答复")
    _redo_and_reply(client, staff, first["id"], 2)
    act(client, staff, "supervisor", first["id"], "close_unsatisfied", reason="已两次重办，诉求超出政策范围")
    [ended] = _mails(session, duplicate["id"], "complaint_closed_unresolved")
    assert (ended.context["target_number"], ended.context["contact_days"]) == (first["number"], [])
    text = _text(ended)
    assert "按不满意办结处理，您的投诉随之办结" in text
    assert "重新办理2次" in text
    assert _track(client, duplicate)["state_label"] == "不满意办结"


def test_a_merged_complainants_reply_sends_dissatisfaction_to_12345_as_they_get_no_return_visit(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first, duplicate = _merged_pair(client, staff)
    _reply_to(client, staff, first["id"])
    [own] = _mails(session, first["id"], "complaint_replied")
    assert "可在回访时提出" in _text(own)
    [merged] = _mails(session, duplicate["id"], "complaint_replied")
    assert merged.context["target_number"] == first["number"]
    text = _text(merged)
    assert "可拨打12345政务服务便民热线提出" in text
    assert "回访" not in text


def test_a_merged_complainant_is_told_when_the_joined_case_closes_satisfied_or_unreachable(
    client: TestClient, staff: Staff, session: Session
) -> None:
    first, duplicate = _merged_pair(client, staff)
    _reply_to(client, staff, first["id"])
    act(client, staff, "intake", first["id"], "close", satisfaction="满意")
    [closed] = _mails(session, duplicate["id"], "complaint_closed")
    assert first["number"] in _text(closed)
    assert _mails(session, first["id"], "complaint_closed") == []  # its own complainant answered the visit

    other, late = _merged_pair(client, staff)
    _reply_to(client, staff, other["id"])
    for day in (dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)):
        set_today(client, day)
        act(client, staff, "intake", other["id"], "record_contact_attempt", contact_result="无人接听")
    act(client, staff, "supervisor", other["id"], "close_unreachable", reason="13800000001 无人接听")
    [ended] = _mails(session, late["id"], "complaint_closed_unresolved")
    text = _text(ended)
    # The attempts were to reach the other complainant: neither their days nor their note are passed on.
    assert "无法联系办结" in text
    assert "2026年3月2日" not in text
    assert "13800000001" not in text


# ------------------------------------------------------------------------------------------ 办结告知


def test_closing_unreachable_while_awaiting_a_supplement_does_not_speak_of_a_return_visit(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "handler", cid, "await_complainant", reason="请补充合同")
    for day in (dt.date(2026, 3, 2), dt.date(2026, 3, 3), dt.date(2026, 3, 4)):
        set_today(client, day)
        act(client, staff, "intake", cid, "record_contact_attempt", contact_result="电话无人接听")
    act(client, staff, "supervisor", cid, "close_unreachable")
    [row] = _mails(session, cid, "complaint_closed_unresolved")
    assert row.context["contact_stage"] == "supplement"
    message = render(row.template, row.context)
    for part in (message.text, message.html):
        assert "回访" not in part
        assert "需要您补充材料" in part
    assert "2026年3月2日、2026年3月3日、2026年3月4日先后3次联系您" in message.text


@pytest.mark.parametrize("redos", [0, 2])
def test_closing_unsatisfied_states_the_real_number_of_redos(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch, redos: int
) -> None:
    monkeypatch.setenv("SHOUXIN_UNSATISFIED_CLOSE_AFTER_REDOS", str(redos))
    get_settings.cache_clear()
    cid = register(client, staff)["id"]
    _reply_to(client, staff, cid)
    for n in range(1, redos + 1):
        _redo_and_reply(client, staff, cid, n)
    act(client, staff, "supervisor", cid, "close_unsatisfied", reason="诉求超出政策范围")
    [row] = _mails(session, cid, "complaint_closed_unresolved")
    assert row.context["redo_count"] == redos
    text = _text(row)
    assert "多次" not in text
    assert ("重新办理2次" in text) == (redos == 2)
    assert ("重新办理" in text.split("办结理由")[0]) == (redos > 0)


def test_the_closing_samples_render_every_situation() -> None:
    sample = TEMPLATES["complaint_closed_unresolved"].sample
    situations: list[dict[str, Any]] = [
        {"outcome": "unsatisfied", "redo_count": 1},
        {"outcome": "unreachable", "contact_stage": "supplement"},
        {"target_number": "TS20260302-0009", "outcome": "unsatisfied", "redo_count": 0},
        {"target_number": "TS20260302-0009", "outcome": "unreachable", "reason": "", "contact_days": []},
    ]
    for situation in situations:
        text = render("complaint_closed_unresolved", {**sample, **situation}).text
        body = [line for line in text.split("\n守信平台\n")[0].splitlines()[1:] if line]
        # Every paragraph keeps its 　　 lead: a block tag at a line's start would strip it.
        assert body, text
        assert all(line.startswith("　　") for line in body), text

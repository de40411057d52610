"""12345 runs its own 工单 time limits and calls the caller back, so it is told what moves the case's clock:
the department signed for the order (签收), an approved extension (延期), the clock paused for the
complainant's supplement (暂停) and resumed (恢复), each with the stage's deadline; every message carries
the deadline running once it is written, pending (待日历确定) when the calendar cannot date it yet. An order
merged into the case (并单) follows the handling case's clock, but is never handed what another caller was
asked to supply."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.complaint import Complaint
from models.hotline import STAGE_LABELS, STAGES, HotlineMessage
from tests.conftest import TODAY, Staff
from tests.test_complaints_api import act, set_today
from tests.test_hotline_intake import ORDER, new_hotline_token, post
from tests.test_hotline_results_follow_merge_and_redo import messages
from tests.web_support import sign_in

D01 = {"code": "D01", "name": "市住房和城乡建设局"}
# What the complainant is asked to supply, as a clerk writes it: the caller's name and number in it.
ASK = "请张先生补充施工合同及结算单，联系电话13900000002"
WHY_LONGER = "需调取张先生所在公司的付款凭证，涉及多个科室"


def _deadline(session: Session, cid: int) -> str | None:
    session.expire_all()
    case = session.get(Complaint, cid)
    assert case is not None
    return case.stage_deadline.isoformat() if case.stage_deadline else None


def _by_stage(rows: list[HotlineMessage]) -> dict[str, dict[str, Any]]:
    return {m.stage: m.payload for m in rows}


def _sign_pause_resume_extend(
    client: TestClient, session: Session, staff: Staff, cid: int
) -> dict[str, str | None]:
    """Through 签收, a pause, the resume a week later and an approved extension: the stage deadline
    after each step, read off the case."""
    seen: dict[str, str | None] = {}
    act(client, staff, "intake", cid, "accept")
    seen["accepted"] = _deadline(session, cid)
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    seen["dispatched"] = _deadline(session, cid)
    act(client, staff, "handler", cid, "sign_for")
    seen["signed"] = _deadline(session, cid)
    act(client, staff, "handler", cid, "await_complainant", reason=ASK)
    set_today(client, TODAY + dt.timedelta(days=7))  # five working days paused
    act(client, staff, "handler", cid, "resume")
    seen["resumed"] = _deadline(session, cid)
    act(client, staff, "handler", cid, "request_extension", days=5, reason=WHY_LONGER)
    act(client, staff, "supervisor", cid, "approve_extension", reason="同意延期5个工作日")
    seen["extended"] = _deadline(session, cid)
    return seen


def test_signing_a_pause_its_resume_and_an_extension_are_each_one_message_with_the_new_deadline(
    client: TestClient, session: Session, staff: Staff
) -> None:
    cid = post(client, new_hotline_token(session)).json()["id"]
    seen = _sign_pause_resume_extend(client, session, staff, cid)
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同约定的付款条件尚未成就")
    act(client, staff, "handler", cid, "reply", reply_text="经核实，付款条件尚未成就。")
    act(client, staff, "intake", cid, "close", satisfaction="满意")

    rows = messages(session, cid)
    stages = ["accepted", "dispatched", "signed", "paused", "resumed", "extended", "replied", "closed"]
    assert [m.stage for m in rows] == stages  # in the order the events happened, one each
    events = {
        e.seq: e
        for e in session.exec(
            select(CaseEvent).where(CaseEvent.case_kind == "complaint", CaseEvent.case_id == cid)
        )
    }
    number = rows[0].payload["case_number"]
    for row in rows:  # each message is its event's, written with it: named by the event's seq
        seq = int(row.message_id.removeprefix(f"{number}:"))
        assert STAGES[events[seq].event] == row.stage == row.payload["stage"]
        assert row.payload["event"] == events[seq].event

    sent = _by_stage(rows)
    signed, paused, resumed, extended = (sent[s] for s in ("signed", "paused", "resumed", "extended"))
    assert (signed["department"], signed["deadline"], signed["deadline_pending"]) == (
        D01,
        seen["signed"],
        False,
    )
    # The clock is stopped: no deadline runs; the ask is this caller's, filtered as any free text is.
    assert (paused["deadline"], paused["caller_asked"], paused["department"]) == (None, True, D01)
    assert paused["reason"] == "请张*生补充施工合同及结算单，联系电话139****0002"
    # Resumed a week later: the days the stage had left are owed from today, a later date than before.
    assert resumed["deadline"] == seen["resumed"]
    assert seen["signed"] is not None
    assert resumed["deadline"] > seen["signed"]
    assert resumed["paused_working_days"] == 5
    # The extension names the days, the department's reason (filtered) and the approver's note.
    assert extended["deadline"] == seen["extended"]
    assert extended["deadline"] > resumed["deadline"]
    assert (extended["extension_days"], extended["department"]) == (5, D01)
    assert extended["reason"] == "需调取张*生所在公司的付款凭证，涉及多个科室"
    assert extended["note"] == "同意延期5个工作日"
    assert "13900000002" not in json.dumps([m.payload for m in rows], ensure_ascii=False)


def test_every_message_carries_the_deadline_of_the_stage_the_case_is_in_none_once_it_ended(
    client: TestClient, session: Session, staff: Staff
) -> None:
    cid = post(client, new_hotline_token(session)).json()["id"]
    seen = _sign_pause_resume_extend(client, session, staff, cid)
    act(client, staff, "competent", cid, "verify_untrue", explanation="合同约定的付款条件尚未成就")
    act(client, staff, "handler", cid, "reply", reply_text="经核实，付款条件尚未成就。")
    replied_by = _deadline(session, cid)
    act(client, staff, "intake", cid, "close", satisfaction="满意")

    sent = _by_stage(messages(session, cid))
    # 派单 is due the working day after acceptance, 签收 two after the dispatch: the platform's clock.
    assert sent["accepted"]["deadline"] == seen["accepted"] is not None
    assert sent["dispatched"]["deadline"] == seen["dispatched"] is not None
    assert sent["replied"]["deadline"] == replied_by is not None  # the return visit's
    assert (sent["closed"]["deadline"], sent["closed"]["deadline_pending"]) == (None, False)


def test_a_deadline_the_calendar_cannot_date_yet_is_sent_as_pending_not_guessed(
    client: TestClient, session: Session, staff: Staff
) -> None:
    cid = post(client, new_hotline_token(session)).json()["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    set_today(client, dt.date(2026, 12, 21))  # 核实 takes 15 working days: into 2027, not loaded
    act(client, staff, "handler", cid, "sign_for")

    signed = _by_stage(messages(session, cid))["signed"]
    assert (signed["deadline"], signed["deadline_pending"]) == (None, True)


def test_an_order_merged_into_the_case_follows_its_clock_but_is_not_handed_anothers_ask(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first: dict[str, Any] = post(client, token).json()
    second: dict[str, Any] = post(client, token, order_id="GD2").json()
    act(client, staff, "intake", first["id"], "accept")
    handling_deadline = _deadline(session, first["id"])
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "dispatch", lead_department_code="D01")
    seen = _sign_pause_resume_extend_after_dispatch(client, session, staff, first["id"])

    rows = messages(session, second["id"])
    assert [m.stage for m in rows] == ["merged", "dispatched", "signed", "paused", "resumed", "extended"]
    joined = {"case_number": first["number"], "order_id": ORDER["order_id"]}
    assert all(m.payload["merged_into"] == joined for m in rows)
    assert all(m.payload["order_id"] == "GD2" for m in rows)
    sent = _by_stage(rows)
    # From the merge on, the order's clock is the handling case's.
    assert sent["merged"]["deadline"] == handling_deadline is not None
    assert sent["signed"]["deadline"] == seen["signed"]
    assert (sent["resumed"]["deadline"], sent["extended"]["deadline"]) == (seen["resumed"], seen["extended"])
    # Its clock stopped too, but its caller was asked for nothing: no ask, and it says so.
    assert (sent["paused"]["caller_asked"], sent["paused"]["deadline"]) == (False, None)
    assert "reason" not in sent["paused"]
    own = _by_stage(messages(session, first["id"]))
    assert own["paused"]["caller_asked"] is True
    assert len({m.message_id for m in rows} | {m.message_id for m in messages(session, first["id"])}) == (
        len(rows) + len(own)
    )


def _sign_pause_resume_extend_after_dispatch(
    client: TestClient, session: Session, staff: Staff, cid: int
) -> dict[str, str | None]:
    seen: dict[str, str | None] = {}
    act(client, staff, "handler", cid, "sign_for")
    seen["signed"] = _deadline(session, cid)
    act(client, staff, "handler", cid, "await_complainant", reason=ASK)
    set_today(client, TODAY + dt.timedelta(days=7))
    act(client, staff, "handler", cid, "resume")
    seen["resumed"] = _deadline(session, cid)
    act(client, staff, "handler", cid, "request_extension", days=5, reason=WHY_LONGER)
    act(client, staff, "supervisor", cid, "approve_extension")
    seen["extended"] = _deadline(session, cid)
    return seen


def test_a_refused_extension_and_the_request_itself_tell_12345_nothing(
    client: TestClient, session: Session, staff: Staff
) -> None:
    cid = post(client, new_hotline_token(session)).json()["id"]
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act(client, staff, "handler", cid, "sign_for")
    act(client, staff, "handler", cid, "request_extension", days=5, reason=WHY_LONGER)
    act(client, staff, "supervisor", cid, "refuse_extension", reason="理由不充分")
    # The deadline did not move: nothing for the platform's clock.
    assert [m.stage for m in messages(session, cid)] == ["accepted", "dispatched", "signed"]


def test_the_admin_outbox_page_names_the_new_stages_in_chinese(
    client: TestClient, session: Session, staff: Staff
) -> None:
    cid = post(client, new_hotline_token(session)).json()["id"]
    _sign_pause_resume_extend(client, session, staff, cid)
    assert {"signed", "extended", "paused", "resumed"} <= set(STAGES.values()) <= set(STAGE_LABELS)

    sign_in(client, staff.admin)
    page = client.get("/staff/admin/hotline")
    assert page.status_code == 200, page.text
    for stage in ("signed", "extended", "paused", "resumed"):
        row = session.exec(select(HotlineMessage).where(HotlineMessage.stage == stage)).one()
        cells = page.text.split(f'id="hotline-message-{row.id}"', 1)[1].split("</tr>", 1)[0]
        assert f'data-label="环节">{STAGE_LABELS[stage]}<' in cells

"""A stage signed for in late December runs into a year whose holiday notice is not loaded: its deadline
is 待日历确定 and 12345 was told so (``deadline_pending``). When the notice is loaded the deadline gets its
date, and when a correction moves it the date changes: 12345, which runs its own 工单 clock, is sent each
as a ``deadline_set`` message — for its own orders and for orders merged into a case of ours — and nothing
for cases it does not follow."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.calendar import load_calendar, parse_year_file, parse_year_notice
from models.calendar_admin import load_year_notice
from models.complaint import Complaint
from models.hotline import STAGE_LABELS
from tests.conftest import Staff
from tests.test_complaints_api import act, register, set_today
from tests.test_december_pending_deadlines import ADMIN, EXAMPLE_2027
from tests.test_hotline_intake import new_hotline_token, post
from tests.test_hotline_results_follow_merge_and_redo import messages

LATE_DECEMBER = dt.date(2026, 12, 21)  # 核实 takes 15 working days: into 2027, not loaded yet


def _signed_in_late_december(client: TestClient, staff: Staff, cid: int) -> None:
    act(client, staff, "intake", cid, "accept")
    act(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    set_today(client, LATE_DECEMBER)
    act(client, staff, "handler", cid, "sign_for")


def _stage_deadline(session: Session, cid: int) -> str:
    session.expire_all()
    case = session.get(Complaint, cid)
    assert case is not None
    assert case.stage_deadline is not None
    return case.stage_deadline.isoformat()


def test_loading_and_correcting_the_notice_sends_12345_the_dated_and_the_moved_deadline(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    order: dict[str, Any] = post(client, token).json()
    _signed_in_late_december(client, staff, order["id"])
    ours = register(client, staff)  # registered by intake: 12345 does not follow it
    _signed_in_late_december(client, staff, ours["id"])
    signed = messages(session, order["id"])[-1].payload
    assert (signed["stage"], signed["deadline"], signed["deadline_pending"]) == ("signed", None, True)

    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    session.commit()
    dated = messages(session, order["id"])[-1].payload
    assert dated["stage"] == "deadline_set"
    assert dated["event"] == "deadline_resolved"
    assert (dated["deadline"], dated["deadline_pending"]) == (_stage_deadline(session, order["id"]), False)
    assert dated["old_deadline"] is None  # it had none: it was pending
    assert "日历" in dated["reason"]
    assert messages(session, ours["id"]) == []

    # A correction that moves 核实's working days: the new date, and the one it replaces.
    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    data["holidays"][0]["end"] = "2027-01-04"  # 元旦 one day longer
    load_year_notice(
        session=session, notice=parse_year_notice(json.dumps(data)), loaded_by="管理员", actor=ADMIN
    )
    session.commit()
    moved = messages(session, order["id"])[-1].payload
    assert (moved["stage"], moved["event"]) == ("deadline_set", "deadline_recomputed")
    assert moved["old_deadline"] == dated["deadline"]
    assert moved["deadline"] == _stage_deadline(session, order["id"]) != dated["deadline"]
    assert moved["deadline"] == load_calendar(session=session).add_working_days(LATE_DECEMBER, 15).isoformat()
    assert [m.stage for m in messages(session, order["id"])].count("deadline_set") == 2
    assert messages(session, ours["id"]) == []


def test_an_order_merged_into_a_case_of_ours_hears_that_cases_dated_deadline(
    client: TestClient, session: Session, staff: Staff
) -> None:
    handling = register(client, staff)
    order: dict[str, Any] = post(client, new_hotline_token(session)).json()
    act(client, staff, "intake", order["id"], "merge", target_number=handling["number"])
    _signed_in_late_december(client, staff, handling["id"])

    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    session.commit()
    copy = messages(session, order["id"])[-1].payload
    assert (copy["stage"], copy["order_id"]) == ("deadline_set", order["external_id"])
    assert copy["merged_into"]["case_number"] == handling["number"]
    assert copy["deadline"] == _stage_deadline(session, handling["id"])
    assert STAGE_LABELS["deadline_set"] == "办理期限确定或调整"

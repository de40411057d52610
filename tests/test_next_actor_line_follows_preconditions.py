"""The case page's "下一步：待…" line names, for each party the case waits on, only the actions the buttons
would offer them (``available_actions``, which honours models/complaints/preconditions.py): no 批准延期 or
不批准延期 without a pending request, no 申请延期 once asked or after the deadline. The page's day is the
pinned clock's (a case ordered on Monday 2026-03-02 to rectify in 5 working days is due 2026-03-09)."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.complaint import Complaint
from models.complaints import who_acts_next
from tests.conftest import TODAY, Staff
from tests.test_complaints_api import act, dispatched_and_signed, set_today
from tests.web_support import sign_in

_LINE = re.compile(r'<p id="next-actor">下一步：(.*?)</p>')


def next_actor_line(client: TestClient, staff: Staff, cid: int) -> dict[str, list[str]]:
    """The page's line as {who: [actions]}, read as a viewer who cannot act (intake)."""
    sign_in(client, staff.intake)
    page = client.get(f"/staff/complaints/{cid}").text
    match = _LINE.search(page)
    assert match is not None, page
    parties = (part.removeprefix("待") for part in match.group(1).split("；"))
    found: dict[str, list[str]] = {}
    for party in parties:
        who = next(
            name
            for name in ("督办人员", "市住房和城乡建设局", "市发展和改革委员会")
            if party.startswith(name)
        )
        found[who] = party.removeprefix(who).split("或")
    return found


def test_extension_decisions_are_named_only_while_a_request_is_pending(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")  # 核实属实: the verifier and the supervisor act
    line = next_actor_line(client, staff, cid)
    assert "责令整改" in line["督办人员"]
    assert "批准延期" not in line["督办人员"]
    assert "不批准延期" not in line["督办人员"]
    assert "申请延期" in line["市住房和城乡建设局"]

    act(client, staff, "handler", cid, "request_extension", days=2, reason="需协调财政资金")
    line = next_actor_line(client, staff, cid)
    assert {"批准延期", "不批准延期"} <= set(line["督办人员"])
    assert "申请延期" not in line["市住房和城乡建设局"]  # once per stage

    complaint = session.get(Complaint, cid)
    assert complaint is not None
    session.refresh(complaint)
    # The service answers the same for the day it is given.
    [labels] = [labels for who, labels in who_acts_next(session=session, complaint=complaint, today=TODAY)
                if who == "督办人员"]  # fmt: skip
    assert "批准延期" in labels


def test_the_line_reads_the_page_day_and_still_names_the_lead_department_while_it_rectifies(
    client: TestClient, staff: Staff
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", deadline_days=5, requirements="限期付款")
    assert "申请延期" in next_actor_line(client, staff, cid)["市住房和城乡建设局"]

    set_today(client, dt.date(2026, 3, 10))  # the rectification deadline has passed: too late to ask
    line = next_actor_line(client, staff, cid)
    assert "申请延期" not in line["市住房和城乡建设局"]
    # 整改中 still waits on the lead department: it has its rectification to report.
    assert "报告整改结果" in line["市住房和城乡建设局"]

"""重办 is counted per case (RULEBOOK §Complaints 9) whichever way the case ended: the scorecard's 重办率 is
over all three endings, and the staff case page shows how many times a case was redone, the 不满意办结
threshold while it matters, and the latest return-visit rating, so nobody counts the timeline."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.clock import Clock, utcnow
from models.scorecard import department_scores
from models.scorecard_pledges import EXPORT_HEADERS
from tests.conftest import Staff
from tests.test_complaint_endings import _reply_to
from tests.test_complaints_api import act, register
from tests.web_support import sign_in


def _redo_and_reply(client: TestClient, staff: Staff, cid: int, n: int) -> None:
    act(client, staff, "intake", cid, "redo", reason=f"第{n}次回访不满意")
    act(client, staff, "competent", cid, "verify_untrue", explanation="再次核实")
    act(client, staff, "handler", cid, "reply", reply_text=f"第{n + 1}次答复")


def _fact(html: str, dd_id: str) -> str:
    found = re.search(rf'<dd id="{dd_id}">(.*?)</dd>', html, re.S)
    assert found, f"no #{dd_id} on the page"
    return found.group(1)


def test_case_redone_then_closed_unsatisfied_counts_as_redone_over_all_endings(
    client: TestClient, staff: Staff, session: Session
) -> None:
    unsatisfied = register(client, staff)["id"]
    _reply_to(client, staff, unsatisfied)
    for n in (1, 2):  # the default threshold for 不满意办结
        _redo_and_reply(client, staff, unsatisfied, n)
    ended = act(client, staff, "supervisor", unsatisfied, "close_unsatisfied", reason="多次重办仍不满意")
    assert (ended["state"], ended["redo_count"]) == ("closed_unsatisfied", 2)
    satisfied = register(client, staff)["id"]
    _reply_to(client, staff, satisfied)
    act(client, staff, "intake", satisfied, "close", satisfaction="满意")
    still_open = register(client, staff)["id"]  # redone, not ended: outside the rate's base
    _reply_to(client, staff, still_open)
    _redo_and_reply(client, staff, still_open, 1)
    session.expire_all()

    [row] = [r for r in department_scores(session=session, today=dt.date(2026, 3, 2)) if r.code == "D01"]
    assert (row.closed, row.closed_unsatisfied, row.ended) == (1, 1, 2)
    assert row.redone == 1
    assert row.redo_rate == 0.5
    assert row.handled == 3  # the other figures as before

    sign_in(client, staff.supervisor)
    day = Clock.from_settings().local_date(utcnow()).isoformat()
    page = client.get(f"/staff/scorecard?period=custom&start={day}&end={day}").text
    assert "重办率（占三类办结合计）" in page
    assert "50.0%（1/2 件）" in page
    assert "重办率（占三类办结合计）" in EXPORT_HEADERS


def test_staff_case_page_shows_redo_count_threshold_and_latest_rating(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = register(client, staff)["id"]
    sign_in(client, staff.supervisor)
    fresh = client.get(f"/staff/complaints/{cid}").text
    assert _fact(fresh, "redo-count") == "0 次"  # no return visit due yet: no threshold shown
    assert _fact(fresh, "satisfaction") == "尚未回访"

    _reply_to(client, staff, cid)
    _redo_and_reply(client, staff, cid, 1)
    html = client.get(f"/staff/complaints/{cid}").text
    assert _fact(html, "redo-count").startswith("1 次（重办满 2 次后方可不满意办结，还差 1 次）")
    assert _fact(html, "satisfaction").startswith("不满意（")

    _redo_and_reply(client, staff, cid, 2)
    html = client.get(f"/staff/complaints/{cid}").text
    assert "2 次（已满 2 次，回访仍不满意的可不满意办结）" in _fact(html, "redo-count")

    act(client, staff, "intake", cid, "close", satisfaction="基本满意")
    html = client.get(f"/staff/complaints/{cid}").text
    assert _fact(html, "redo-count") == "2 次"  # ended: the threshold no longer matters
    assert _fact(html, "satisfaction").startswith("基本满意（")

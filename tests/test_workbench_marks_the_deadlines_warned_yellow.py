"""The handler's workbench marks 临期 (the yellow warning) on the rows the supervision flow warns yellow
today, by the flow's own rule: one working day before the deadline through the deadline itself. An overdue
row is 超期 instead, and a deadline pending the year's holiday notice is never marked."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.complaints import supervise_batch, supervision_ids
from models.workflow import Actor
from tests.conftest import TODAY, Staff
from tests.test_complaints_api import dispatched_and_signed
from tests.web_support import sign_in

# TODAY is Monday 2 March 2026; the deadlines, by working days left today.
DEADLINES = {
    "due_today": dt.date(2026, 3, 2),
    "one_left": dt.date(2026, 3, 3),
    "two_left": dt.date(2026, 3, 4),
    "overdue": dt.date(2026, 2, 27),  # Friday; Saturday 28 February is a make-up working day
    "pending": None,
}


def queue_rows(page: str) -> dict[str, str]:
    """The workbench queue's rows by case number."""
    table = page.split('id="queue"')[1].split("</table>")[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, flags=re.S)[1:]
    return {re.search(r">(TS-\d{4}-\d{6})<", row).group(1): row for row in rows}  # type: ignore[union-attr]


def test_the_workbench_marks_as_due_soon_exactly_the_cases_the_flow_warns_yellow_today(
    client: TestClient, staff: Staff, session: Session, calendar: WorkCalendar
) -> None:
    cases: dict[str, Complaint] = {}
    for name, deadline in DEADLINES.items():
        complaint = session.get(Complaint, dispatched_and_signed(client, staff))
        assert complaint is not None
        complaint.stage_deadline = deadline
        complaint.deadline_pending = deadline is None
        cases[name] = complaint
    session.commit()
    numbers = {name: c.number for name, c in cases.items()}

    sign_in(client, staff.competent)  # 核实 is the 主管部门's move: these are in its queue
    rows = queue_rows(client.get("/staff").text)
    assert set(rows) == set(numbers.values())
    marked = {name for name, number in numbers.items() if "临期" in rows[numbers[name]]}
    assert marked == {"due_today", "one_left"}
    assert "超期 2 个工作日" in rows[numbers["overdue"]]
    assert "待日历确定" in rows[numbers["pending"]]

    # The same rule as the flow's: the cases it warns yellow today are the ones marked.
    supervise_batch(
        session=session,
        ids=supervision_ids(session=session),
        actor=Actor.system("run-yellow"),
        today=TODAY,
        calendar=calendar,
    )
    session.commit()
    warned = session.exec(select(CaseEvent.case_id).where(col(CaseEvent.event) == "warn_yellow")).all()
    assert set(warned) == {cases[name].id for name in marked}

"""The supervisor dashboard's 异议与信用修复决定期限 (``#record-deadlines``): every published breach record
with an objection being decided or a repair request appears with its decision deadline, linked to its
staff page, the soonest deadline first; one past its deadline is marked 超期. Records with nothing to
decide are not listed. The requests are lodged through the public API on the days they would be."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.main import create_app
from models.breach import PublishedBreach
from models.clock import Clock
from tests.conftest import Staff
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import sign_in

PUBLIC = "/api/v1/public/breaches"
# Published 2026-02-28: a repair may be requested from 2026-05-28 (3 months), so the later requests come
# on Monday 2026-06-01; the first objection on Monday 2026-03-02.
EARLY, LATE, VIEWED = dt.date(2026, 3, 2), dt.date(2026, 6, 1), dt.date(2026, 6, 2)
_ROW = re.compile(r'<tr class="([^"]*)">(.*?)</tr>', re.S)
_CELL = re.compile(r'<td data-label="([^"]+)">(.*?)</td>', re.S)


def on(engine: Engine, clock: Clock, day: dt.date) -> TestClient:
    pinned = type(clock)(tz=clock.tz, pinned_today=day)
    return TestClient(create_app(engine=engine, clock=pinned, check_schema=False))


def object_to(client: TestClient, session: Session, breach: PublishedBreach) -> None:
    body = {"access_code": access_code(session, breach), "reason": "已按期提交材料", "evidence": "快递单号"}
    answer = client.post(f"{PUBLIC}/{breach.number}/objection", json=body)
    assert answer.status_code == 201, answer.text


def request_repair(client: TestClient, session: Session, breach: PublishedBreach) -> None:
    body = {
        "access_code": access_code(session, breach),
        "statement": "已补交合格书",
        "repair_pledge": "按期履约",
    }
    answer = client.post(f"{PUBLIC}/{breach.number}/repair", json=body)
    assert answer.status_code == 201, answer.text


def record_rows(page: str) -> list[tuple[bool, dict[str, str]]]:
    """The rows of ``#record-deadlines``: whether marked late, and each cell's HTML by its label."""
    start = page.index('id="record-deadlines"')
    table = page[start : page.index("</table>", start)]
    return [(klass == "late", dict(_CELL.findall(row))) for klass, row in _ROW.findall(table)]


def test_objections_and_repairs_awaiting_decision_are_listed_by_deadline_with_the_overdue_one_marked(
    engine: Engine, session: Session, staff: Staff, clock: Clock
) -> None:
    later_objection, repair, early_objection, untouched = publish(
        engine, session, ("示范建设有限公司", CODE), ("张小三", None), ("李四", None), ("王五", None)
    )
    with on(engine, clock, EARLY) as early:
        object_to(early, session, early_objection)  # decide within 5 working days: 2026-03-09
    with on(engine, clock, LATE) as late:
        object_to(late, session, later_objection)  # 5 working days: 2026-06-08
        request_repair(late, session, repair)  # 3 working days: 2026-06-04

    with on(engine, clock, VIEWED) as supervisor:
        sign_in(supervisor, staff.supervisor)
        page = supervisor.get("/staff/dashboard")
        assert page.status_code == 200
        rows = record_rows(page.text)

        expected = [
            (early_objection, "异议处理中", "2026-03-09"),
            (repair, "信用修复申请中", "2026-06-04"),
            (later_objection, "异议处理中", "2026-06-08"),
        ]
        assert [(cells["编号"], cells["状态"], cells["决定期限"]) for _, cells in rows] == [
            (f'<a href="/staff/breaches/{b.id}">{b.number}</a>', label, day) for b, label, day in expected
        ]
        assert untouched.number not in page.text
        # Past its deadline: the row is marked and says by how many working days; the others count down.
        assert [late_row for late_row, _ in rows] == [True, False, False]
        overdue = re.fullmatch(r'<span class="tag red">超期 (\d+) 个工作日</span>', rows[0][1]["剩余工作日"])
        assert overdue is not None
        # 03-10 … 06-02: 16 in March, 21 in April (清明 04-06 off), 19 in May (劳动节 off, 05-09 worked), 2.
        assert int(overdue[1]) == 58
        assert [cells["剩余工作日"] for _, cells in rows[1:]] == ["2", "4"]

        # Each number is a door: the record's page opens for the supervisor, with the request to decide.
        door = supervisor.get(f"/staff/breaches/{repair.id}")
        assert door.status_code == 200
        assert repair.number in door.text
        assert "已补交合格书" in door.text

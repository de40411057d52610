"""The dashboard's 各部门超期与临期 and the daily digest count every kind of stage the dashboard supervises
for whoever it awaits, not the complaint stages alone: an evidence review late is its authority's (审批部门),
an objection or repair decision late is the record's 认定部门's, and the supervisors' for a record from a
complaint, which they decide. A department late with nothing but an evidence review has its row, and the
row's count opens the list of exactly what it counts (the complaint list could show none of it)."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import dashboard
from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.digest import DUE_SOON_WORKING_DAYS, digest_rows, queue_daily_digest
from models.lifecycle import BreachState, PledgeState
from models.outbox import Notification
from models.pledge import Pledge
from notifications.render import render
from tests.conftest import Staff
from tests.test_publication import new_pledge
from tests.test_register import publish
from tests.test_scorecard import _complaint
from tests.web_support import sign_in

TODAY = dt.date(2026, 3, 2)  # the tests' pinned day (conftest)
LATE_BY = dt.date(2026, 2, 26)  # a deadline passed
SOON = dt.date(2026, 3, 3)  # due within the dashboard's 2 working days
HOUSING, FINANCE, STAFF = "市住房和城乡建设局", "市财政局", "受理及督办人员"


def _late_review(session: Session, deadline: dt.date = LATE_BY) -> Pledge:
    """A pledge of D01 (住建局) whose evidence awaits its review, due on ``deadline``."""
    pledge = new_pledge(session, dt.date(2026, 4, 30), name="张小三", code=None)
    session.execute(
        update(Pledge)
        .where(Pledge.id == pledge.id)  # type: ignore[arg-type]
        .values(state=PledgeState.EVIDENCE_SUBMITTED, stage_deadline=deadline)
    )
    session.commit()
    return pledge


def _awaiting(session: Session, record: PublishedBreach, state: BreachState, **values: object) -> None:
    session.execute(
        update(PublishedBreach)
        .where(PublishedBreach.id == record.id)  # type: ignore[arg-type]
        .values(state=state, stage_deadline=LATE_BY, **values)
    )
    session.commit()


def _counts(session: Session, calendar: WorkCalendar) -> dict[str, tuple[int, int]]:
    rows = dashboard.due_by_department(
        session=session, today=TODAY, calendar=calendar, working_days=DUE_SOON_WORKING_DAYS
    )
    return {r.name: (r.overdue, r.due_soon) for r in rows}


def _finance_complaint_late(session: Session, calendar: WorkCalendar) -> None:
    _complaint(session, calendar, dt.date(2026, 2, 2), "D02")  # its 签收 deadline passed long ago
    session.commit()


def test_a_late_evidence_review_is_counted_for_its_authority_on_the_dashboard_and_in_the_digest(
    session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    _finance_complaint_late(session, calendar)
    late = _late_review(session)
    soon = _late_review(session, SOON)

    assert _counts(session, calendar) == {FINANCE: (1, 0), HOUSING: (1, 1)}
    digest = {r["department_name"]: r for r in digest_rows(session=session, today=TODAY, calendar=calendar)}
    assert {name: (r["overdue"], r["due_soon"]) for name, r in digest.items()} == _counts(session, calendar)
    assert [(c["number"], c["overdue"]) for c in digest[HOUSING]["cases"]] == [
        (late.number, True),
        (soon.number, False),
    ]
    assert digest[HOUSING]["cases"][0]["url"].endswith(f"/staff/pledges/{late.id}")

    assert queue_daily_digest(session=session, today=TODAY, calendar=calendar) == 1
    mail = session.exec(select(Notification).where(Notification.template == "daily_digest")).one()
    text = render(mail.template, mail.context).text
    assert f"{HOUSING}：已超期1件，临期1件" in text
    assert f"{late.number}（告知承诺材料核查，已超期" in text


def test_a_late_objection_is_its_deciding_departments_and_one_on_a_record_from_a_complaint_the_supervisors(
    engine: Engine, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    objected, from_complaint = publish(engine, session, ("张小三", None), ("李四", None))  # both D01's
    complaint = _complaint(session, calendar, dt.date(2026, 2, 27), "D02")  # not yet late
    _awaiting(session, objected, BreachState.UNDER_OBJECTION)
    _awaiting(session, from_complaint, BreachState.REPAIR_REQUESTED, complaint_id=complaint.id)

    counts = _counts(session, calendar)
    assert (counts[HOUSING], counts[STAFF]) == ((1, 0), (1, 0))
    digest = {r["department_name"]: r for r in digest_rows(session=session, today=TODAY, calendar=calendar)}
    assert [c["number"] for c in digest[HOUSING]["cases"]] == [objected.number]
    assert [c["number"] for c in digest[STAFF]["cases"]] == [from_complaint.number]
    assert digest[STAFF]["cases"][0]["url"].endswith(f"/staff/breaches/{from_complaint.id}")


def _door(page: str, name: str, tag: str) -> tuple[str, str]:
    row = re.search(rf'<td data-label="责任单位">{name}</td>(.*?)</tr>', page, re.S)
    assert row is not None, f"no row for {name}"
    door = re.search(rf'<a class="tag {tag}" href="([^"]+)">(\d+)</a>', row[1])
    assert door is not None
    return door[1].replace("&amp;", "&"), door[2]


def test_each_count_opens_the_list_of_every_stage_it_counts(
    engine: Engine, client: TestClient, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    [objected] = publish(engine, session, ("王五", None))
    _awaiting(session, objected, BreachState.UNDER_OBJECTION)
    _finance_complaint_late(session, calendar)
    late = _late_review(session)
    soon = _late_review(session, SOON)
    sign_in(client, staff.supervisor)
    page = client.get("/staff/dashboard").text

    overdue, count = _door(page, HOUSING, "red")
    assert (overdue, count) == ("/staff/dashboard/awaiting?awaits=D01&overdue=true", "2")
    listed = client.get(overdue)
    assert listed.status_code == 200
    assert f"待{HOUSING}办理、已超期的环节（2 件）" in listed.text
    assert f'href="/staff/pledges/{late.id}">{late.number}</a>' in listed.text
    assert f'href="/staff/breaches/{objected.id}">{objected.number}</a>' in listed.text
    assert soon.number not in listed.text

    due_soon, count = _door(page, HOUSING, "amber")
    assert count == "1"
    listed = client.get(due_soon).text
    assert f'href="/staff/pledges/{soon.id}">{soon.number}</a>' in listed
    assert late.number not in listed

    overdue, count = _door(page, FINANCE, "red")
    listed = client.get(overdue).text
    assert (count, "（1 件）") == ("1", re.search(r"（\d+ 件）", listed)[0])  # type: ignore[index]
    assert late.number not in listed

    # An administrator sees the numbers of pages only pledge staff and deciders open, unlinked.
    client.cookies.clear()
    sign_in(client, staff.admin)
    listed = client.get("/staff/dashboard/awaiting?awaits=D01&overdue=true").text
    assert late.number in listed
    assert 'href="/staff/pledges/' not in listed
    assert client.get("/staff/dashboard/awaiting?awaits=NOPE&overdue=true").status_code == 404

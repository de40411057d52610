"""`shouxin demo`: demo users with known tokens, cases in several states, safe to run twice."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.demo import seed_demo, seed_demo_cases
from models.lifecycle import BreachState, PledgeState
from models.pledge import Pledge


def test_demo_seeds_once_and_its_tokens_work(
    session: Session, calendar: WorkCalendar, client: TestClient
) -> None:
    today = dt.date(2026, 11, 23)
    tokens = seed_demo(session=session)
    created = seed_demo_cases(session=session, today=today, calendar=calendar)
    session.commit()  # the services flush; the caller (here the CLI's session_scope) commits
    assert len(created) == 7
    assert seed_demo(session=session) == tokens
    assert seed_demo_cases(session=session, today=today, calendar=calendar) == []
    states = sorted(c.state for c in session.exec(select(Complaint)).all())
    assert states == ["dispatched", "rectifying", "registered"]
    assert len(session.exec(select(Pledge)).all()) == 4
    supervisor = next(t for role, _, t in tokens if role == "supervisor")
    r = client.get("/api/v1/complaints", headers={"Authorization": f"Bearer {supervisor}"})
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 3


def test_demo_includes_a_published_record_open_to_objection_and_repair_at_once(
    session: Session, calendar: WorkCalendar, client: TestClient
) -> None:
    today = dt.date(2026, 11, 23)  # the demo's pinned date (the client's clock is pinned to 2026-03-02)
    seed_demo(session=session)
    created = seed_demo_cases(session=session, today=today, calendar=calendar)
    session.commit()
    [line] = [c for c in created if c.startswith("公示记录")]
    code = re.search(r"办理码 ([A-Z0-9-]+)", line)
    assert code
    [record] = session.exec(select(PublishedBreach)).all()
    assert record.number in line
    assert record.state == BreachState.PUBLISHED
    assert record.repair_earliest <= today  # past the general class's minimum: repair may be asked now
    assert record.publication_end > today  # still shown
    # Written by the sweep's own steps: the pledge went overdue, then was published, as a system event.
    pledge = session.get(Pledge, record.pledge_id)
    assert pledge is not None
    assert pledge.state == PledgeState.PUBLISHED
    events = session.exec(
        select(CaseEvent)
        .where(CaseEvent.case_kind == "pledge", CaseEvent.case_id == pledge.id)
        .order_by(col(CaseEvent.seq))
    ).all()
    assert [(e.event, e.actor_role) for e in events][-2:] == [
        ("mark_overdue", "system"),
        ("publish", "system"),
    ]
    # It is on the public register, and the printed access code lets its subject object.
    listed = client.get("/api/v1/public/breaches").json()["items"]
    assert [r["record_number"] for r in listed] == [record.number]
    objection = client.post(
        f"/api/v1/public/breaches/{record.number}/objection",
        json={"access_code": code.group(1), "reason": "安全生产许可证已按期取得"},
    )
    assert objection.status_code == 201, objection.text

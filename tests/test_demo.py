"""`shouxin demo`: demo users with known tokens, cases in several states, safe to run twice."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.demo import seed_demo, seed_demo_cases
from models.pledge import Pledge


def test_demo_seeds_once_and_its_tokens_work(
    session: Session, calendar: WorkCalendar, client: TestClient
) -> None:
    today = dt.date(2026, 11, 23)
    tokens = seed_demo(session=session)
    created = seed_demo_cases(session=session, today=today, calendar=calendar)
    session.commit()  # the services flush; the caller (here the CLI's session_scope) commits
    assert len(created) == 6
    assert seed_demo(session=session) == tokens
    assert seed_demo_cases(session=session, today=today, calendar=calendar) == []
    states = sorted(c.state for c in session.exec(select(Complaint)).all())
    assert states == ["dispatched", "rectifying", "registered"]
    assert len(session.exec(select(Pledge)).all()) == 3
    supervisor = next(t for role, _, t in tokens if role == "supervisor")
    r = client.get("/api/v1/complaints", headers={"Authorization": f"Bearer {supervisor}"})
    assert r.status_code == 200, r.text
    assert len(r.json()["items"]) == 3

"""Publication prepares its rows before the first write: a pledge changed in between is published as it
now is, and an event appended in between makes the batch roll back and run again, never fork the chain."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import insert, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import models.publication as publication
from models.audit import CaseEvent
from models.audit_verify import verify_audit
from models.breach import PublishedBreach
from models.lifecycle import PledgeState
from models.outbox import Notification
from models.platform import PlatformDocument
from models.pledge import Pledge
from models.publication import run_batch
from tests.conftest import Staff
from tests.test_publication import SYSTEM, _id, new_pledge

DUE = dt.date(2026, 3, 2)  # publication day of a 2026-02-12 deadline is 2026-02-28


def _overdue_pledge(session: Session) -> int:
    pid = _id(new_pledge(session, dt.date(2026, 2, 12)))
    session.execute(update(Pledge).where(Pledge.id == pid).values(state=PledgeState.OVERDUE))  # type: ignore[arg-type]
    session.commit()
    return pid


def _claim_after(monkeypatch: pytest.MonkeyPatch, before: Any) -> list[int]:
    """Make ``before(session, ids)`` run just before each compare-and-set; returns the call log."""
    calls: list[int] = []
    real = publication.apply_event_many

    def claim(*, session: Session, ids: Any, **kw: Any) -> Any:
        calls.append(len(calls))
        before(session, ids, len(calls))
        return real(session=session, ids=ids, **kw)

    monkeypatch.setattr(publication, "apply_event_many", claim)
    return calls


def test_a_pledge_changed_after_the_reads_is_published_as_it_is_now(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    del staff
    pid = _overdue_pledge(session)

    def rename(s: Session, _ids: Any, _call: int) -> None:
        # A change that bumps the version, as every lifecycle event does.
        s.execute(
            update(Pledge)
            .where(Pledge.id == pid)  # type: ignore[arg-type]
            .values(pledgor_name="更名后有限公司", version=Pledge.version + 1)
        )

    _claim_after(monkeypatch, rename)
    assert run_batch(engine=engine, step="publish", ids=[pid], today=DUE, actor=SYSTEM) == 1
    with Session(engine) as s:
        breach = s.exec(select(PublishedBreach)).one()
        assert breach.subject_name == "更名后有限公司"
        mail = s.exec(select(Notification).where(Notification.template == "pledge_published")).one()
        assert mail.recipient_name == "更名后有限公司"
        assert mail.context["record_number"] == breach.number
        document = s.exec(select(PlatformDocument)).one()
        assert document.payload["record"]["XDR_MC"] == "更名后有限公司"
        assert document.payload["record"]["record_number"] == breach.number
        assert verify_audit(session=s).ok


def test_an_event_appended_after_the_reads_fails_the_batch_which_is_retried(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    del staff
    pid = _overdue_pledge(session)
    last = session.exec(
        select(CaseEvent).where(CaseEvent.case_id == pid).order_by(CaseEvent.seq.desc())
    ).first()  # type: ignore[attr-defined]
    assert last is not None

    def append(s: Session, _ids: Any, call: int) -> None:
        if call == 1:  # an event without a version change, written after publish_due read the chain
            fields = last.model_dump(exclude={"id"}) | {"seq": last.seq + 1, "event": "note"}
            s.execute(insert(CaseEvent.__table__).values(**fields))  # type: ignore[attr-defined]

    calls = _claim_after(monkeypatch, append)
    assert run_batch(engine=engine, step="publish", ids=[pid], today=DUE, actor=SYSTEM) == 1
    assert len(calls) == 2  # the first attempt hit the unique (kind, case, seq) and was rolled back
    with Session(engine) as s:
        events = s.exec(select(CaseEvent.event).where(CaseEvent.case_id == pid).order_by(CaseEvent.seq)).all()  # type: ignore[arg-type]
        assert events[-1] == "publish"
        assert "note" not in events
        assert verify_audit(session=s).ok

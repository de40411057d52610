"""12345 follow-ups arriving at once on one case, on a file-backed SQLite and on PostgreSQL (separate
connections, as deployed): each reads the case only once it holds it, so supplements sent together all
keep their attachments, within the cap; a supplement or chase that lost the race to a withdrawal is
refused as on an ended case, never recorded and mailed there; and a withdrawal that lost to another is
answered as a resend would be, not with the clerk's "正在被他人处理"."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, col, select

import models.hotline_followups as followups
from models.accounts import import_departments
from models.audit import CaseEvent
from models.audit_verify import verify_audit
from models.calendar import load_calendar
from models.complaint import Complaint
from models.complaints import act
from models.complaints.bodies import ActionBody, DispatchBody
from models.db import make_engine
from models.errors import DomainError
from models.hotline_followups import FollowUp, FollowUpResult, receive_follow_up
from models.hotline_intake import WorkOrder, register_work_order
from models.lifecycle import Role
from models.outbox import Notification
from models.settings import get_settings
from models.workflow import Actor
from tests.conftest import BACKENDS, DEPARTMENTS, empty_pg_database
from tests.test_hotline_intake import ORDER, RECEIVED_AT

TODAY = dt.date(2026, 3, 16)
PLATFORM = Actor(name="12345热线平台", role=Role.HOTLINE)
INTAKE = Actor(name="受理员甲", role=Role.INTAKE)
CALLED_AGAIN = (RECEIVED_AT + dt.timedelta(hours=3)).isoformat()


@pytest.fixture(params=BACKENDS)
def separate_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose connections are really separate (the in-memory test database shares one)."""
    if request.param == "postgres":
        engine = make_engine(request.getfixturevalue("pg_url"))
        empty_pg_database(engine)
    else:
        engine = make_engine(f"sqlite:///{tmp_path / 'race.db'}", create=True)
        SQLModel.metadata.create_all(engine)
    with Session(engine) as session:
        import_departments(session=session, items=DEPARTMENTS)
        session.commit()
    yield engine
    engine.dispose()


def _together(n: int, work: Callable[[int], str]) -> list[str]:
    """Run ``work(i)`` in ``n`` threads released at the same moment; what each returned."""
    barrier = threading.Barrier(n)
    out: list[str] = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            out.append(work(i))
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return out


def _dispatched_order(engine: Engine) -> int:
    with Session(engine, expire_on_commit=False) as session:
        calendar = load_calendar(session=session)
        case, _ = register_work_order(session=session, order=WorkOrder.model_validate(ORDER), actor=PLATFORM,
                                      today=TODAY, calendar=calendar)  # fmt: skip
        assert case.id is not None
        act(session=session, complaint_id=case.id, action="accept", body=ActionBody(), actor=INTAKE,
            today=TODAY, calendar=calendar)  # fmt: skip
        act(session=session, complaint_id=case.id, action="dispatch",
            body=DispatchBody(lead_department_code="D01"), actor=INTAKE, today=TODAY,
            calendar=calendar)  # fmt: skip
        session.commit()
        return case.id


def _send(engine: Engine, **fields: Any) -> FollowUpResult:
    follow_up = FollowUp.model_validate({"received_at": CALLED_AGAIN, **fields})
    with Session(engine, expire_on_commit=False) as session:
        calendar = load_calendar(session=session)
        result = receive_follow_up(session=session, order_id=ORDER["order_id"], follow_up=follow_up,
                                   actor=PLATFORM, today=TODAY, calendar=calendar)  # fmt: skip
        session.commit()
        return result


def _outcome(engine: Engine, **fields: Any) -> str:
    try:
        result = _send(engine, **fields)
    except DomainError as refusal:
        return f"{type(refusal).__name__}: {refusal.message}"
    return "created" if result.created else "again"


def _supplement(i: int) -> dict[str, Any]:
    return {
        "follow_up_id": f"BC{i:03d}",
        "kind": "supplement",
        "content": f"来电人补充第 {i} 份材料。",
        "attachments": [f"补充材料{i}.pdf"],
    }


def test_supplements_sent_at_once_all_keep_their_attachments(separate_engine: Engine) -> None:
    cid = _dispatched_order(separate_engine)

    outcomes = _together(8, lambda i: _outcome(separate_engine, **_supplement(i)))

    assert outcomes == ["created"] * 8
    with Session(separate_engine) as session:
        case = session.get(Complaint, cid)
        assert case is not None
        assert sorted(case.attachments) == sorted(f"补充材料{i}.pdf" for i in range(8))
        assert len(session.exec(select(CaseEvent).where(CaseEvent.event == "hotline_supplement")).all()) == 8
        assert verify_audit(session=session).ok


def test_supplements_sent_at_once_never_exceed_the_attachment_cap(
    separate_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = _dispatched_order(separate_engine)
    monkeypatch.setenv("SHOUXIN_COMPLAINT_MAX_ATTACHMENTS", "3")
    get_settings.cache_clear()  # the conftest clears it again after the test

    outcomes = _together(6, lambda i: _outcome(separate_engine, **_supplement(i)))

    assert outcomes.count("created") == 3
    assert all(o.startswith("ValidationFailed") for o in outcomes if o != "created"), outcomes
    with Session(separate_engine) as session:
        case = session.get(Complaint, cid)
        assert case is not None
        assert len(case.attachments) == 3
        assert len(session.exec(select(CaseEvent).where(CaseEvent.event == "hotline_supplement")).all()) == 3


@pytest.mark.parametrize("kind", ["supplement", "chase"])
def test_a_follow_up_that_read_the_case_before_a_withdrawal_committed_is_refused_as_on_an_ended_case(
    separate_engine: Engine, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    cid = _dispatched_order(separate_engine)
    real = followups._recorded
    checks: list[str] = []

    def withdrawn_meanwhile(session: Session, key: str) -> CaseEvent | None:
        # The follow-up has found its order's case and not yet taken it: the caller's withdrawal, sent a
        # moment earlier under another follow-up id, commits in that moment.
        checks.append(key)
        if len(checks) == 1:
            assert _outcome(separate_engine, follow_up_id="CD1", kind="withdrawal",
                            content="欠款已付清，申请撤回。") == "created"  # fmt: skip
        return real(session, key)

    monkeypatch.setattr(followups, "_recorded", withdrawn_meanwhile)
    outcome = _outcome(separate_engine, follow_up_id="BC1", kind=kind, content="来电人补充或催办。")

    assert outcome.startswith("Conflict"), outcome
    assert "撤回办结" in outcome
    with Session(separate_engine) as session:
        events = session.exec(
            select(CaseEvent.event).where(CaseEvent.case_id == cid).order_by(col(CaseEvent.seq))
        ).all()
        assert events[-2:] == ["hotline_withdrawal", "withdraw"]
        mailed = session.exec(select(Notification).where(Notification.template == "hotline_follow_up")).all()
        assert mailed == []


def test_withdrawals_sent_at_once_end_the_case_once_and_the_others_are_answered_as_resends(
    separate_engine: Engine,
) -> None:
    cid = _dispatched_order(separate_engine)
    reason = "欠款已付清，来电人申请撤回。"

    # Four copies of one withdrawal, and two more the caller made by calling again.
    def send(i: int) -> str:
        return _outcome(separate_engine, follow_up_id=f"CD{max(i - 3, 0)}", kind="withdrawal", content=reason)

    outcomes = _together(6, send)

    # One withdrawal ends the case; its copies answer as a resend does, and every other withdrawal finds
    # the case withdrawn, as one sent after it would.
    assert outcomes.count("created") == 1, outcomes
    assert outcomes.count("again") in (0, 3), outcomes
    refused = [o for o in outcomes if o not in ("created", "again")]
    assert all(o.startswith("Conflict") and "无需再次撤单" in o for o in refused), outcomes
    with Session(separate_engine) as session:
        case = session.get(Complaint, cid)
        assert case is not None
        assert case.state == "closed_withdrawn"
        withdraws = session.exec(
            select(CaseEvent).where(CaseEvent.case_id == cid, CaseEvent.event == "withdraw")
        )
        assert len(withdraws.all()) == 1
        assert verify_audit(session=session).ok

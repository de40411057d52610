"""Races on a merge target and on the wrong-code limit, on a file-backed SQLite and on PostgreSQL (separate
connections, as deployed): a merge must not go through against a target another transaction moved, and
wrong codes or sign-ins sent at once must not be compared more often than the limit allows."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from models.audit import CaseEvent
from models.audit_verify import verify_audit
from models.calendar import load_calendar
from models.clock import utcnow
from models.complaint import Complaint
from models.complaints import act, register_complaint
from models.complaints.bodies import MergeBody, RejectBody
from models.complaints.context import ActionContext
from models.db import make_engine
from models.errors import Conflict, NotPermitted, RateLimited
from models.lifecycle import Role
from models.pledges.access import check_pledgor
from models.ratelimit import AuthFailure
from models.settings import get_settings
from models.signin_limit import check_sign_in_allowed, record_sign_in_failure
from models.workflow import Actor
from tests.conftest import BACKENDS, DEPARTMENTS, empty_pg_database
from tests.test_publication import new_pledge
from tests.test_supervision import DATA

TODAY = dt.date(2026, 3, 2)
INTAKE_A = Actor(name="受理员甲", role=Role.INTAKE)
INTAKE_B = Actor(name="受理员乙", role=Role.INTAKE)


@pytest.fixture(params=BACKENDS)
def separate_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine whose connections are really separate (the in-memory test database shares one)."""
    from models.accounts import import_departments

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


def _together(n: int, work: Callable[[int], str]) -> Counter[str]:
    """Run ``work(i)`` in ``n`` threads released at the same moment; count what they return."""
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
    return Counter(out)


def _two_complaints(engine: Engine) -> tuple[Complaint, Complaint]:
    with Session(engine, expire_on_commit=False) as session:
        calendar = load_calendar(session=session)
        target, _ = register_complaint(
            session=session, data=DATA, actor=INTAKE_A, today=TODAY, calendar=calendar
        )
        dup, _ = register_complaint(
            session=session, data=DATA, actor=INTAKE_A, today=TODAY, calendar=calendar
        )
        session.commit()
    return target, dup


def test_a_merge_into_a_target_rejected_meanwhile_is_refused_and_changes_nothing(
    separate_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    target, dup = _two_complaints(separate_engine)
    real_fire = ActionContext.fire

    def reject_target_first(self: ActionContext, event: str, *args: Any, **kwargs: Any) -> CaseEvent:
        # The merge has read and checked its target, and written nothing yet: another intake clerk
        # rejects the target (不予受理, terminal) and commits in that moment.
        if event == "merge":
            with Session(separate_engine) as other:
                act(session=other, complaint_id=target.id or 0, action="reject",
                    body=RejectBody(reason="属于诉讼范围", route="litigation"), actor=INTAKE_B,
                    today=TODAY, calendar=load_calendar(session=other))  # fmt: skip
                other.commit()
        return real_fire(self, event, *args, **kwargs)

    monkeypatch.setattr(ActionContext, "fire", reject_target_first)
    with Session(separate_engine) as session, pytest.raises(Conflict, match="并单目标案件.*已被他人更新"):
        act(session=session, complaint_id=dup.id or 0, action="merge",
            body=MergeBody(target_number=target.number), actor=INTAKE_A, today=TODAY,
            calendar=load_calendar(session=session))  # fmt: skip

    with Session(separate_engine) as session:
        rejected, left = session.get(Complaint, target.id), session.get(Complaint, dup.id)
        assert rejected is not None
        assert left is not None
        assert rejected.state == "not_accepted"
        assert (left.state, left.merged_into_id) == ("registered", None)
        events = session.exec(
            select(CaseEvent.event).where(CaseEvent.case_kind == "complaint", CaseEvent.case_id == target.id)
        ).all()
        assert "merged_in" not in events
        assert verify_audit(session=session).ok


def test_a_merge_bumps_its_targets_version_so_a_stale_action_on_the_target_is_refused(
    separate_engine: Engine,
) -> None:
    target, dup = _two_complaints(separate_engine)
    with Session(separate_engine) as session:
        act(session=session, complaint_id=dup.id or 0, action="merge",
            body=MergeBody(target_number=target.number), actor=INTAKE_A, today=TODAY,
            calendar=load_calendar(session=session))  # fmt: skip
        session.commit()
    with Session(separate_engine) as session:
        merged_into = session.get(Complaint, target.id)
        assert merged_into is not None
        assert merged_into.version == target.version + 1
        # A clerk who read the target before the duplicate joined it has not seen that complainant.
        with pytest.raises(Conflict):
            act(session=session, complaint_id=target.id or 0, action="reject",
                body=RejectBody(reason="属于诉讼范围", route="litigation", expected_version=target.version),
                actor=INTAKE_B, today=TODAY, calendar=load_calendar(session=session))  # fmt: skip
        assert verify_audit(session=session).ok


def test_wrong_access_codes_sent_at_once_are_compared_no_more_often_than_the_limit(
    separate_engine: Engine,
) -> None:
    with Session(separate_engine, expire_on_commit=False) as session:
        number = new_pledge(session, dt.date(2026, 3, 20), name="主体", code=None).number
        session.commit()
    limit = get_settings().tracking_max_failures_per_case

    def guess(i: int) -> str:
        with Session(separate_engine) as session:
            try:
                check_pledgor(session=session, number=number, code=f"AAAA-BBBB-C{i:03d}",
                              address="203.0.113.9", now=utcnow())  # fmt: skip
            except NotPermitted:
                return "compared"
            except RateLimited:
                return "limited"
            return "accepted"

    outcomes = _together(4 * limit, guess)

    assert outcomes == Counter({"compared": limit, "limited": 3 * limit})
    with Session(separate_engine) as session:
        pair = session.exec(select(AuthFailure).where(AuthFailure.scope == "pair")).all()
        assert len(pair) == limit


def test_wrong_sign_ins_sent_at_once_are_compared_no_more_often_than_the_limit(
    separate_engine: Engine,
) -> None:
    limit = get_settings().tracking_max_failures_per_case

    def sign_in(_: int) -> str:
        # As the sign-in page does: check, compare (always wrong here), record and commit the failure.
        with Session(separate_engine) as session:
            now = utcnow()
            try:
                check_sign_in_allowed(session=session, name="经办人", address="203.0.113.9", now=now)
            except RateLimited:
                return "limited"
            record_sign_in_failure(session=session, name="经办人", address="203.0.113.9", now=now)
            session.commit()
            return "compared"

    assert _together(4 * limit, sign_in) == Counter({"compared": limit, "limited": 3 * limit})

"""Regressions from review: a second overdue occurrence, a December sweep without next year's calendar,
and publication days recomputed only with their audit event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

import models.publication as publication
from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.calendar import load_calendar
from models.lifecycle import PledgeState, Role
from models.outbox import Notification
from models.pledge import Pledge
from models.pledges import pledge_action, store_evidence
from models.publication import Fired, recompute_publication_days, sweep
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_publication import SYSTEM, _id, count, new_pledge


def test_pledge_overdue_again_after_rejected_evidence_gets_a_second_mail_and_batch_progresses(
    engine: Engine, session: Session, staff: Staff
) -> None:
    # Deadline 2026-03-20 is before the 7th working day of the first overdue spell, so evidence can be
    # rejected and the pledge become overdue again while still unpublished.
    again = new_pledge(session, dt.date(2026, 2, 12))
    other = new_pledge(session, dt.date(2026, 2, 26), name="另一建设有限公司", code=None)
    assert sweep(engine=engine, today=dt.date(2026, 2, 24), actor=SYSTEM).counts["overdue"] == 1
    calendar = load_calendar(session=session)
    session.expire_all()
    handler = Actor(name="住建经办人", role=Role.HANDLER, department_id=again.authority_id)
    store_evidence(
        session=session, pledge_id=_id(again), filename="合格书.pdf", content=b"%PDF-1.7 test",
        actor=handler, today=dt.date(2026, 2, 25), calendar=calendar,
    )  # fmt: skip
    pledge_action(
        session=session, pledge_id=_id(again), action="reject_evidence", actor=handler,
        today=dt.date(2026, 2, 26), calendar=calendar, expected_version=None, reason="缺少审查机构盖章",
    )  # fmt: skip

    counts = sweep(engine=engine, today=dt.date(2026, 2, 27), actor=SYSTEM).counts

    assert counts["overdue"] == 2  # the other pledge in the same batch is not held up
    session.expire_all()
    assert {session.get(Pledge, _id(p)).state for p in (again, other)} == {PledgeState.OVERDUE}  # type: ignore[union-attr]
    mails = count(
        session,
        Notification,
        col(Notification.case_id) == _id(again),
        col(Notification.template) == "pledge_overdue",
    )
    assert mails == 2
    # A re-run adds nothing.
    assert sweep(engine=engine, today=dt.date(2026, 2, 27), actor=SYSTEM).counts["overdue"] == 0
    assert count(session, Notification, col(Notification.template) == "pledge_overdue") == 3


def test_notification_with_a_key_already_queued_is_skipped_not_an_error(
    engine: Engine, session: Session, staff: Staff
) -> None:
    pledge = new_pledge(session, dt.date(2026, 2, 12))
    row = publication.notification_row(
        template="pledge_overdue", pledge=pledge, key="same-key", context={}, actor=SYSTEM,
        now=dt.datetime(2026, 2, 13, tzinfo=dt.UTC),
    )  # fmt: skip
    publication._insert_notifications(session, [row])
    publication._insert_notifications(session, [dict(row), {**row, "idempotency_key": "other-key"}])
    session.commit()
    assert count(session, Notification, col(Notification.template) == "pledge_overdue") == 2


def test_december_sweep_without_next_years_calendar_still_publishes(
    engine: Engine, session: Session, staff: Staff
) -> None:
    due = new_pledge(session, dt.date(2026, 12, 10), registered_on=dt.date(2026, 11, 2))
    soon = new_pledge(
        session, dt.date(2026, 12, 31), name="将到期有限公司", code=None, registered_on=dt.date(2026, 11, 2)
    )
    late = new_pledge(
        session, dt.date(2027, 1, 6), name="明年到期有限公司", code=None, registered_on=dt.date(2026, 11, 2)
    )
    assert session.get(Pledge, _id(due)).publication_day is not None  # type: ignore[union-attr]

    report = sweep(engine=engine, today=dt.date(2026, 12, 30), actor=SYSTEM)

    assert report.counts["publish"] == 1
    assert report.refused == {}
    assert count(session, PublishedBreach, col(PublishedBreach.pledge_id) == _id(due)) == 1
    # The deadline inside the loaded year is reminded; the one in the unloaded year waits for its calendar.
    reminded = set(session.exec(select(CaseEvent.case_id).where(CaseEvent.event == "remind")))
    assert _id(soon) in reminded
    assert _id(late) not in reminded


def test_recompute_changes_only_the_days_of_pledges_it_audits(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = new_pledge(session, dt.date(2026, 2, 12))
    held = new_pledge(session, dt.date(2026, 2, 12), name="被锁定有限公司", code=None)
    wrong = dt.date(2026, 2, 20)
    session.execute(update(Pledge).values(publication_day=wrong))
    session.commit()
    real_claim = publication.claim

    def claim_skipping_held(*, ids: Sequence[int], **kw: Any) -> list[Fired]:
        # As when a concurrent sweep holds the row (SKIP LOCKED) or moved it on first.
        return real_claim(ids=[i for i in ids if i != _id(held)], **kw)

    monkeypatch.setattr(publication, "claim", claim_skipping_held)
    done = recompute_publication_days(
        session=session, calendar=load_calendar(session=session), actor=Actor.system(None)
    )
    session.commit()
    session.expire_all()

    assert done == 1
    assert session.get(Pledge, _id(taken)).publication_day == dt.date(2026, 2, 28)  # type: ignore[union-attr]
    assert session.get(Pledge, _id(held)).publication_day == wrong  # type: ignore[union-attr]
    events = set(session.exec(select(CaseEvent.case_id).where(CaseEvent.event == "recompute")))
    assert events == {_id(taken)}

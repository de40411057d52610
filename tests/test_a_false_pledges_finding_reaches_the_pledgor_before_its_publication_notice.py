"""A pledge found false is told to its pledgor in the order it happened: the finding (虚假承诺认定告知) is
queued before the publication notice that rests on it (虚假承诺失信信息公示告知), and the outbox delivers
in queue order, so the pledgor never reads of a record before the finding behind it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from flows.deliver_notifications import deliver_due
from models.calendar import load_calendar
from models.outbox import Notification
from models.pledges import pledge_action
from notifications.sink import list_sink_messages, start_sink
from tests.conftest import Staff
from tests.test_notifications import HOST, port  # noqa: F401  (the SMTP port fixture)
from tests.test_publication import SUPERVISOR, new_pledge


@pytest.fixture
def mail_sink(engine: Engine, port: int) -> Iterator[Controller]:  # noqa: F811
    controller = start_sink(engine, host=HOST, port=port)
    yield controller
    controller.stop()


def test_the_finding_is_queued_and_delivered_before_the_records_notice(
    engine: Engine, session: Session, staff: Staff, mail_sink: Controller
) -> None:
    pledge = new_pledge(session, dt.date(2026, 3, 20), registered_on=dt.date(2026, 3, 2))
    assert pledge.id is not None
    pledge_action(
        session=session, pledge_id=pledge.id, action="confirm_false", actor=SUPERVISOR,
        today=dt.date(2026, 3, 3), calendar=load_calendar(session=session), expected_version=None,
        reason="施工图审查合格书系伪造",
    )  # fmt: skip
    session.commit()
    stmt = select(Notification.template).where(Notification.case_kind == "pledge")
    queued = list(session.exec(stmt.where(Notification.case_id == pledge.id).order_by(col(Notification.id))))
    assert queued.index("pledge_found_false") < queued.index("pledge_false_recorded")

    deliver_due(engine=engine)
    with Session(engine) as read:
        subjects = [m.subject for m in reversed(list_sink_messages(session=read, limit=50))]
    finding = next(i for i, s in enumerate(subjects) if "虚假承诺认定告知" in s)
    record = next(i for i, s in enumerate(subjects) if "虚假承诺失信信息公示告知" in s)
    assert finding < record, subjects

"""December without next year's holiday notice: the work goes on, deadlines wait for the calendar.

A fortnight of ordinary hotline and pledge work from 15 to 31 December 2026 while 2027 is not loaded:
complaints are registered, dispatched, signed for, rectification is ordered and extended, pledges are
registered and their evidence handed in. Every deadline that lands in 2027 is stored as 待日历确定 and
nothing is warned about it; then docs/calendar-example-2027.json is loaded through the function behind
``shouxin calendar load`` and every pending deadline gets its date, audited, and supervision goes on.

In the example 2027 notice 1–3 January are 元旦 holidays, so Monday 4 January is the first working day;
December 2026 has no holidays (12 working days after the 15th)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, col, select
from typer.testing import CliRunner

from cli.calendar_cmd import app as calendar_app
from models.accounts import department_by_code, import_departments
from models.audit import CaseEvent
from models.calendar import WorkCalendar, load_calendar, parse_year_file, parse_year_notice
from models.calendar_admin import load_year_notice
from models.clock import Clock
from models.complaint import Complaint, ComplaintCreate, ComplaintPublic
from models.complaints import (
    ActionBody,
    ComplaintFilter,
    DispatchBody,
    OptionalReasonBody,
    act,
    register_complaint,
    supervise_batch,
    supervision_ids,
    track,
    work_queue,
)
from models.complaints.bodies import ExtensionRequestBody, OrderRectificationBody, ReasonBody
from models.complaints.visibility import event_label
from models.db import create_sqlite_file, get_engine
from models.digest import queue_daily_digest
from models.exports import COMPLAINT_COLUMNS, complaint_rows
from models.files import Upload
from models.lifecycle import PledgeState, Role
from models.outbox import Notification
from models.pending_deadlines import calendar_warning, pending_counts
from models.pledge import Pledge
from models.pledges import store_evidence
from models.settings import get_settings
from models.stage_deadline import PENDING_LABEL
from models.workflow import Actor
from notifications.render import render
from tests.conftest import DEPARTMENTS, Staff
from tests.test_publication import new_pledge
from tests.web_support import sign_in

EXAMPLE_2027 = Path(__file__).resolve().parents[1] / "docs" / "calendar-example-2027.json"
INTAKE = Actor(name="受理员", role=Role.INTAKE)
SUPERVISOR = Actor(name="督办员", role=Role.SUPERVISOR)
ADMIN = Actor(name="管理员", role=Role.ADMIN)
SYSTEM = Actor.system("run-december")
DECEMBER = [dt.date(2026, 12, 15) + dt.timedelta(days=n) for n in range(17)]  # 12-15 .. 12-31

DATA = ComplaintCreate.model_validate(
    {
        "channel": "hotline",
        "complainant_name": "某某建材有限公司",
        "complainant_phone": "13900000000",
        "category": "procurement",
        "summary": "政府采购合同款项逾期未付",
        "respondent_department_code": "D01",
    }
)


def handler(session: Session, code: str = "D01") -> Actor:
    """A handler of the lead department D01, or of D00, its competent department, which verifies."""
    return Actor(
        name=f"{code}经办人",
        role=Role.HANDLER,
        department_id=department_by_code(session=session, code=code).id,
    )


def do(
    session: Session, cid: int, action: str, actor: Actor, day: dt.date, body: ActionBody | None = None
) -> None:
    act(session=session, complaint_id=cid, action=action, body=body or ActionBody(), actor=actor, today=day,
        calendar=load_calendar(session=session))  # fmt: skip
    session.commit()


def registered(session: Session, day: dt.date) -> int:
    complaint, _ = register_complaint(
        session=session, data=DATA, actor=INTAKE, today=day, calendar=load_calendar(session=session)
    )
    session.commit()
    assert complaint.id is not None
    return complaint.id


def dispatched(session: Session, day: dt.date) -> int:
    cid = registered(session, day)
    do(session, cid, "accept", INTAKE, day)
    do(session, cid, "dispatch", INTAKE, day, DispatchBody(lead_department_code="D01"))
    return cid


def case(session: Session, cid: int) -> Complaint:
    session.expire_all()
    found = session.get(Complaint, cid)
    assert found is not None
    return found


def pending(row: Any) -> tuple[bool, dt.date | None, int | None, dt.date | None]:
    return (row.deadline_pending, row.deadline_counted_from, row.deadline_working_days, row.stage_deadline)


def events(session: Session, kind: str, cid: int, *names: str) -> list[CaseEvent]:
    stmt = select(CaseEvent).where(CaseEvent.case_kind == kind, CaseEvent.case_id == cid)
    if names:
        stmt = stmt.where(col(CaseEvent.event).in_(names))
    return list(session.exec(stmt.order_by(col(CaseEvent.seq))).all())


def supervise(session: Session, day: dt.date) -> None:
    supervise_batch(session=session, ids=supervision_ids(session=session), actor=SYSTEM, today=day,
                    calendar=load_calendar(session=session))  # fmt: skip
    session.commit()


def test_a_december_without_2027_works_on_and_loading_2027_dates_every_pending_deadline(
    session: Session, staff: Staff
) -> None:
    dec = dict(enumerate(DECEMBER, start=15))
    h, verifier = handler(session), handler(session, "D00")
    assert not load_calendar(session=session).covers(2027)

    # 15 December: signed for, the 15-working-day verification lands in 2027.
    signed = dispatched(session, dec[15])
    do(session, signed, "sign_for", h, dec[15])
    assert pending(case(session, signed)) == (True, dec[15], 15, None)
    answer = ComplaintPublic.model_validate(case(session, signed), from_attributes=True).model_dump()
    assert answer["deadline_pending"] is True
    assert answer["deadline_label"] == PENDING_LABEL

    # 16 December: verified and rectification ordered (15 working days), extended by 5 on the 17th/18th.
    rectifying = dispatched(session, dec[15])
    do(session, rectifying, "sign_for", h, dec[15])
    do(session, rectifying, "verify_true", verifier, dec[16])
    assert pending(case(session, rectifying)) == (False, dec[16], 2, dt.date(2026, 12, 18))
    order = OrderRectificationBody(requirements="限期付款")
    do(session, rectifying, "order_rectification", verifier, dec[16], order)
    assert pending(case(session, rectifying)) == (True, dec[16], 15, None)
    extension = ExtensionRequestBody(reason="审计未完成", days=5)
    do(session, rectifying, "request_extension", h, dec[17], extension)
    do(session, rectifying, "approve_extension", SUPERVISOR, dec[18], OptionalReasonBody(reason="同意"))
    assert pending(case(session, rectifying)) == (True, dec[16], 20, None)
    [approved] = events(session, "complaint", rectifying, "approve_extension")
    assert approved.data["new_deadline"] == PENDING_LABEL

    # 28 December: a new complaint's first review is due inside 2026, as always.
    known = registered(session, dec[28])
    assert pending(case(session, known)) == (False, dec[28], 2, dt.date(2026, 12, 30))

    # 30 December: dispatched; signing for is due 2 working days on, in 2027; the mail says so.
    late = dispatched(session, dec[30])
    assert pending(case(session, late)) == (True, dec[30], 2, None)
    mail = session.exec(
        select(Notification).where(
            Notification.case_id == late, Notification.template == "complaint_dispatched"
        )
    ).one()
    rendered = render("complaint_dispatched", mail.context)
    assert "待日历确定" in rendered.text
    assert "待日历确定" in rendered.html

    # Pledges: one due in 2027 (publication day pending), one whose evidence review lands in 2027.
    due_2027 = new_pledge(session, dt.date(2027, 1, 15), registered_on=dec[16])
    reviewed = new_pledge(session, dt.date(2026, 12, 31), registered_on=dec[15], name="甲建设有限公司")
    session.commit()
    assert due_2027.publication_day is None
    store_evidence(session=session, pledge_id=reviewed.id or 0, uploads=[Upload("许可证.pdf", b"%PDF-1.7 x")],
                   actor=Actor(name="住建经办人", role=Role.HANDLER, department_id=reviewed.authority_id),
                   today=dec[29], calendar=load_calendar(session=session))  # fmt: skip
    session.commit()
    session.expire_all()
    review = session.get(Pledge, reviewed.id)
    assert review is not None
    assert review.state == PledgeState.EVIDENCE_SUBMITTED
    assert pending(review) == (True, dec[29], 5, None)

    # Supervision every day of the fortnight: nothing is warned on a pending deadline.
    for day in DECEMBER:
        supervise(session, day)
    for cid in (signed, rectifying, late):
        assert [e.event for e in events(session, "complaint", cid) if e.actor_role == "system"] == []
    counts = {c.kind: c.count for c in pending_counts(session=session)}
    assert counts == {"complaint": 3, "pledge": 1, "breach": 0, "publication_day": 2}

    # An administrator loads 2027 through the function behind `shouxin calendar load`.
    notice = parse_year_file(EXAMPLE_2027)
    _, _, recomputed = load_year_notice(session=session, notice=notice, loaded_by="管理员", actor=ADMIN)
    session.commit()
    assert recomputed.deadlines == {"complaint": 3, "pledge": 1, "breach": 0}
    assert recomputed.publication_days == 2
    expected = {
        signed: (dec[15], 15, dt.date(2027, 1, 6)),  # 12 December working days, then 4, 5, 6 January
        rectifying: (dec[16], 20, dt.date(2027, 1, 14)),  # 11 + 9 of January's (4–8, 11–14)
        late: (dec[30], 2, dt.date(2027, 1, 4)),  # 31 December, then 4 January
    }
    for cid, (start, days, day) in expected.items():
        assert pending(case(session, cid)) == (False, start, days, day)
        [resolved] = events(session, "complaint", cid, "deadline_resolved")
        assert resolved.data["deadline"] == day.isoformat()
        assert resolved.actor_name == "管理员"
        assert resolved.from_state == resolved.to_state == case(session, cid).state
    session.expire_all()
    review = session.get(Pledge, reviewed.id)
    assert review is not None
    assert pending(review) == (False, dec[29], 5, dt.date(2027, 1, 6))
    assert len(events(session, "pledge", reviewed.id or 0, "deadline_resolved")) == 1
    assert {c.kind: c.count for c in pending_counts(session=session)}["complaint"] == 0

    # Work goes on: the overdue verification is warned red on the first working day after its deadline.
    supervise(session, dt.date(2027, 1, 7))
    assert "warn_red" in [e.event for e in events(session, "complaint", signed)]
    do(session, signed, "verify_true", verifier, dt.date(2027, 1, 7))
    assert case(session, signed).stage_deadline == dt.date(2027, 1, 11)  # order_rectification: 2 working days


def test_a_corrected_notice_moves_the_known_deadlines_whose_working_days_it_changed(
    session: Session, staff: Staff
) -> None:
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    session.commit()
    h = handler(session)
    across = dispatched(session, dt.date(2027, 1, 27))
    do(session, across, "sign_for", h, dt.date(2027, 1, 27))  # 15 working days to verify, across 春节
    before = case(session, across).stage_deadline
    assert before is not None
    untouched = registered(session, dt.date(2027, 3, 1))  # its 2 working days are not corrected
    march = case(session, untouched).stage_deadline
    # The notice is corrected: 春节 one day longer, and no make-up working day on 20 February.
    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    data["holidays"][1]["end"] = "2027-02-15"
    data["workdays"].remove("2027-02-20")
    _, _, recomputed = load_year_notice(
        session=session, notice=parse_year_notice(json.dumps(data)), loaded_by="管理员", actor=ADMIN
    )
    session.commit()
    corrected = load_calendar(session=session).add_working_days(dt.date(2027, 1, 27), 15)
    assert corrected > before
    assert case(session, across).stage_deadline == corrected
    assert case(session, untouched).stage_deadline == march
    assert recomputed.deadlines["complaint"] == 1
    [moved] = events(session, "complaint", across, "deadline_recomputed")
    assert (moved.data["old_deadline"], moved.data["deadline"]) == (before.isoformat(), corrected.isoformat())
    assert event_label(moved.event) == "办理期限调整（节假日安排更正）"


def test_a_correction_of_days_inside_a_finished_pause_leaves_the_resumed_deadline_where_it_was(
    session: Session, staff: Staff
) -> None:
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    session.commit()
    cid = registered(session, dt.date(2027, 2, 1))
    owed = case(session, cid).deadline_working_days
    assert owed is not None
    do(session, cid, "await_complainant", INTAKE, dt.date(2027, 2, 1), ReasonBody(reason="待补充合同材料"))
    resumed_on = dt.date(2027, 2, 22)
    do(session, cid, "resume", INTAKE, resumed_on)
    before = case(session, cid).stage_deadline
    # Corrected: 春节 one day longer and no make-up day on 20 February, both inside the pause.
    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    data["holidays"][1]["end"] = "2027-02-15"
    data["workdays"].remove("2027-02-20")
    load_year_notice(
        session=session, notice=parse_year_notice(json.dumps(data)), loaded_by="管理员", actor=ADMIN
    )
    session.commit()
    # Paused on its first day, the stage owes all its days after the resume, on either calendar.
    assert case(session, cid).stage_deadline == before
    assert before == load_calendar(session=session).add_working_days(resumed_on, owed)


@pytest.mark.parametrize(
    ("day", "setting", "warned"),
    [
        (dt.date(2026, 10, 31), None, False),
        (dt.date(2026, 11, 1), None, True),
        (dt.date(2026, 12, 31), None, True),
        (dt.date(2026, 11, 2), "12-01", False),
        (dt.date(2026, 12, 1), "12-01", True),
    ],
)
def test_administrators_are_told_from_the_configured_day_that_next_year_is_missing(
    monkeypatch: pytest.MonkeyPatch, day: dt.date, setting: str | None, warned: bool
) -> None:
    if setting:
        monkeypatch.setenv("SHOUXIN_CALENDAR_WARNING_FROM", setting)
    get_settings.cache_clear()
    warning = calendar_warning(WorkCalendar(), day)
    assert (warning is not None) == warned
    if warning:
        assert "2027 年节假日安排尚未载入" in warning
    assert calendar_warning(WorkCalendar().with_notice(parse_year_file(EXAMPLE_2027)), day) is None


@pytest.mark.parametrize("today", [dt.date(2026, 11, 2)])
def test_health_dashboard_and_digest_warn_until_2027_is_loaded(
    client: TestClient, session: Session, staff: Staff, today: dt.date
) -> None:
    answer = client.get("/api/v1/health")
    assert answer.status_code == 200
    # The tests configure no credit platform, which health reports too: only the calendar's warning counts.
    [warning] = [w for w in answer.json()["warnings"] if "信用平台" not in w]
    assert "2027" in warning
    sign_in(client, staff.supervisor)
    assert "calendar-warning" in client.get("/staff/dashboard").text
    assert queue_daily_digest(session=session, today=today, calendar=load_calendar(session=session)) == 2
    digests = session.exec(select(Notification).where(Notification.template == "daily_digest")).all()
    assert sorted(d.recipient_name for d in digests) == sorted(["管理员", "督办员老李"])
    assert all(d.context["calendar_warning"] == warning for d in digests)
    assert "工作日历提醒" in render("daily_digest", digests[0].context).text

    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    session.commit()
    assert [w for w in client.get("/api/v1/health").json()["warnings"] if "信用平台" not in w] == []
    assert "calendar-warning" not in client.get("/staff/dashboard").text


def test_calendar_status_prints_the_years_covered_and_what_waits_for_2027(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'status.db'}"
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", url)
    monkeypatch.setenv("SHOUXIN_TODAY", "2026-12-30")
    get_settings.cache_clear()
    get_engine.cache_clear()
    create_sqlite_file(get_engine().url)
    SQLModel.metadata.create_all(get_engine())
    with Session(get_engine()) as other:
        import_departments(session=other, items=DEPARTMENTS)
        other.commit()
        dispatched(other, dt.date(2026, 12, 30))
    result = CliRunner().invoke(calendar_app, ["status"])
    get_engine().dispose()
    assert result.exit_code == 0, result.output
    assert "2027 年节假日安排：未载入" in result.output
    assert "投诉办理环节" in result.output
    assert "提醒" in result.output


def test_the_work_queue_shows_a_pending_deadline_as_waiting_for_the_calendar(
    session: Session, staff: Staff
) -> None:
    dec = dict(enumerate(DECEMBER, start=15))
    h = handler(session)
    signed = dispatched(session, dec[15])
    do(session, signed, "sign_for", h, dec[15])
    queue = work_queue(session=session, actor=handler(session, "D00"), today=dec[15],
                       calendar=load_calendar(session=session))  # fmt: skip
    item = next(t for t in queue if t.id == signed)
    assert item.stage_deadline is None
    assert item.deadline_pending is True
    assert item.working_days_left is None


def test_the_complaint_export_says_a_pending_deadline_waits_for_the_calendar(
    session: Session, staff: Staff
) -> None:
    dec = dict(enumerate(DECEMBER, start=15))
    signed = dispatched(session, dec[15])
    do(session, signed, "sign_for", handler(session), dec[15])
    known = registered(session, dec[28])
    rows = complaint_rows(session=session, actor=SUPERVISOR, filters=ComplaintFilter(), today=dec[28])
    deadline_column = [key for key, _ in COMPLAINT_COLUMNS].index("stage_deadline")
    by_number = {row[0]: row[deadline_column] for row in rows}
    assert by_number[case(session, signed).number] == PENDING_LABEL
    assert by_number[case(session, known).number] == dt.date(2026, 12, 30)


def test_tracking_tells_the_complainant_the_deadline_waits_for_the_calendar(
    session: Session, staff: Staff, clock: Clock
) -> None:
    dec = dict(enumerate(DECEMBER, start=15))
    complaint, password = register_complaint(
        session=session, data=DATA, actor=INTAKE, today=dec[15], calendar=load_calendar(session=session)
    )
    session.commit()
    assert complaint.id is not None
    assert password is not None
    do(session, complaint.id, "accept", INTAKE, dec[15])
    do(session, complaint.id, "dispatch", INTAKE, dec[15], DispatchBody(lead_department_code="D01"))
    do(session, complaint.id, "sign_for", handler(session), dec[15])
    answer = track(session=session, number=complaint.number, password=password, clock=clock)
    assert answer.stage_deadline is None
    assert answer.deadline_pending is True

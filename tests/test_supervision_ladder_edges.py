"""Edges of the supervision ladder (催办 → 督办 → 提级办理): a step a supervisor pressed by hand is not sent
again by the flow in the same stage; a stage the supervisors hold is escalated to them alone, by one
message; an overdue stage paused in December is resumed in a January without the notice; an evidence
review's 提级办理 reaches the authority's 主管部门, as a complaint's reaches the lead's."""

from __future__ import annotations

import datetime as dt

from sqlmodel import Session, col, select

from models.calendar import WorkCalendar, load_calendar
from models.complaints.bodies import (
    ExtensionRequestBody,
    OptionalReasonBody,
    OrderRectificationBody,
    ReasonBody,
    ReportRectificationBody,
)
from models.lifecycle import Role
from models.outbox import Notification
from models.pledge import Pledge
from models.pledges.review import chase_review, supervise_reviews
from models.stage_deadline import PENDING_LABEL, due_day
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_december_pending_deadlines import (
    SUPERVISOR,
    case,
    dispatched,
    do,
    events,
    handler,
    pending,
    supervise,
)
from tests.test_january_without_notice import load_2027
from tests.test_publication import SYSTEM, _id, new_pledge
from tests.test_publication_hold import DEADLINE, submit

MARCH_2 = dt.date(2026, 3, 2)
LADDER = ("warn_red", "remind", "supervise", "escalate")


def overdue(calendar: WorkCalendar, deadline: dt.date | None, n: int) -> dt.date:
    assert deadline is not None
    return calendar.add_working_days(deadline, n)


def mails(session: Session, cid: int, template: str) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(
        Notification.case_kind == "complaint", Notification.case_id == cid, Notification.template == template
    )
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def signed(session: Session) -> tuple[int, dt.date]:
    cid = dispatched(session, MARCH_2)
    do(session, cid, "sign_for", handler(session), MARCH_2)
    deadline = case(session, cid).stage_deadline
    assert deadline is not None
    return cid, deadline


def test_the_flow_does_not_send_again_a_supervise_a_supervisor_pressed_by_hand(
    session: Session, staff: Staff
) -> None:
    calendar = load_calendar(session=session)
    cid, deadline = signed(session)
    supervise(session, overdue(calendar, deadline, 1))  # 红牌 and 催办
    do(session, cid, "supervise", SUPERVISOR, overdue(calendar, deadline, 1))  # 督办 by hand
    for n in range(1, 7):
        supervise(session, overdue(calendar, deadline, n))
    ladder = [(e.event, e.data.get("manual", False)) for e in events(session, "complaint", cid, *LADDER)]
    # The flow's own 督办 (due at 3 working days overdue) is not sent; 提级办理 still follows at 5.
    assert ladder == [("warn_red", False), ("remind", False), ("supervise", True), ("escalate", False)]
    notices = [m.context["step"] for m in mails(session, cid, "supervision_notice")]
    assert notices.count("supervise") == 1
    assert [m.context["step"] for m in mails(session, cid, "escalation_alert")] == ["supervise", "escalate"]


def test_a_manual_escalation_leaves_the_flow_no_lower_step_to_send(session: Session, staff: Staff) -> None:
    calendar = load_calendar(session=session)
    cid, deadline = signed(session)
    do(session, cid, "escalate", SUPERVISOR, overdue(calendar, deadline, 1))
    for n in range(1, 7):
        supervise(session, overdue(calendar, deadline, n))
    # The red warning is a warning, not a chase: it still goes out; no 催办 or 督办 after a 提级办理.
    assert [e.event for e in events(session, "complaint", cid, *LADDER)] == ["escalate", "warn_red"]
    # 核实 awaits the 主管部门, which has none above it: one notice, to it.
    assert [m.context["step"] for m in mails(session, cid, "supervision_notice")] == ["escalate"]


def test_a_manual_step_before_a_pause_still_counts_after_the_resume(session: Session, staff: Staff) -> None:
    calendar = load_calendar(session=session)
    cid, deadline = signed(session)
    do(session, cid, "supervise", SUPERVISOR, overdue(calendar, deadline, 1))
    paused_on = overdue(calendar, deadline, 1)
    do(session, cid, "await_complainant", handler(session), paused_on, ReasonBody(reason="请补充合同"))
    do(session, cid, "resume", handler(session), overdue(calendar, deadline, 4))
    resumed = case(session, cid).stage_deadline  # the pause (3 working days) moves the deadline
    for n in range(1, 4):
        supervise(session, overdue(calendar, resumed, n))
    # Pausing keeps the stage: its 督办 by hand is not sent again once it is 3 working days overdue.
    assert [e.event for e in events(session, "complaint", cid, "remind", "supervise")] == ["supervise"]


def test_an_approved_extension_starts_the_ladder_afresh_after_a_manual_step(
    session: Session, staff: Staff
) -> None:
    calendar = load_calendar(session=session)
    cid, deadline = signed(session)
    before = calendar.add_working_days(MARCH_2, 1)
    do(session, cid, "supervise", SUPERVISOR, before)
    do(
        session,
        cid,
        "request_extension",
        handler(session),
        before,
        ExtensionRequestBody(reason="需审计", days=5),
    )
    do(session, cid, "approve_extension", SUPERVISOR, before, OptionalReasonBody(reason="同意"))
    extended = case(session, cid).stage_deadline
    for n in range(1, 4):
        supervise(session, overdue(calendar, extended, n))
    # The extended deadline's own 催办 and 督办: the 督办 before the extension was for the old deadline.
    chased = [(e.event, e.idempotency_key) for e in events(session, "complaint", cid, "remind", "supervise")]
    assert chased == [
        ("supervise", None),
        ("remind", f"complaint:{cid}:stage4:extended:remind"),
        ("supervise", f"complaint:{cid}:stage4:extended:supervise"),
    ]


def test_a_stage_the_supervisors_hold_is_escalated_to_them_alone_by_one_message(
    session: Session, staff: Staff
) -> None:
    calendar = load_calendar(session=session)
    cid, _ = signed(session)
    verifier = handler(session, "D00")
    do(session, cid, "verify_true", verifier, MARCH_2)
    do(session, cid, "order_rectification", verifier, MARCH_2, OrderRectificationBody(requirements="付款"))
    report = ReportRectificationBody(evidence="已付款", attachments=["付款凭证"])
    do(session, cid, "report_rectification", handler(session), MARCH_2, report)  # 整改审核: supervisors act
    deadline = case(session, cid).stage_deadline
    for n in range(1, 6):
        supervise(session, overdue(calendar, deadline, n))
    assert [e.event for e in events(session, "complaint", cid, *LADDER)] == list(LADDER)
    # The delay is the supervisors' own: no department is asked to report it, nobody is escalated to.
    notices = mails(session, cid, "supervision_notice")
    assert [(m.recipient_kind, m.context["step"]) for m in notices] == [("supervisor", "remind")]
    alerts = mails(session, cid, "escalation_alert")
    assert [(m.recipient_name, m.context["step"]) for m in alerts] == [
        ("督办员老李", "supervise"),
        ("督办员老李", "escalate"),
    ]
    assert case(session, cid).escalated_to_department_id is None


def test_a_stage_a_department_holds_is_still_escalated_to_its_competent_department(
    session: Session, staff: Staff
) -> None:
    calendar = load_calendar(session=session)
    cid, _ = signed(session)
    verifier = handler(session, "D00")
    do(session, cid, "verify_true", verifier, MARCH_2)
    do(session, cid, "order_rectification", verifier, MARCH_2, OrderRectificationBody(requirements="付款"))
    deadline = case(session, cid).stage_deadline  # 整改: the lead's own move
    supervise(session, overdue(calendar, deadline, 5))
    escalated = [
        m.recipient_name for m in mails(session, cid, "supervision_notice") if m.context["step"] == "escalate"
    ]
    assert escalated == ["市住房和城乡建设局"]
    # The 主管部门 handles nothing of the case: it is told in words of its own, naming the late department.
    superior = mails(session, cid, "escalation_superior_notice")
    assert [(m.recipient_name, m.context["late_department_name"]) for m in superior] == [
        ("市发展和改革委员会", "市住房和城乡建设局")
    ]
    assert [m.context["step"] for m in mails(session, cid, "escalation_alert")] == ["supervise", "escalate"]


def test_an_overdue_pause_resumed_in_a_january_without_the_notice_waits_for_the_calendar(
    session: Session, staff: Staff
) -> None:
    calendar = load_calendar(session=session)
    assert not calendar.covers(2027)
    cid = dispatched(session, dt.date(2026, 12, 1))
    do(session, cid, "sign_for", handler(session), dt.date(2026, 12, 1))
    deadline = case(session, cid).stage_deadline
    assert deadline == dt.date(2026, 12, 22)
    paused_on = overdue(calendar, deadline, 2)  # 24 December, 2 working days overdue
    do(session, cid, "await_complainant", handler(session), paused_on, ReasonBody(reason="请补充合同"))
    resumed_on = dt.date(2027, 1, 5)
    do(session, cid, "resume", handler(session), resumed_on)  # not refused: work never stops for a year
    assert pending(case(session, cid)) == (True, resumed_on, -2, None)
    [resumed] = events(session, "complaint", cid, "resume")
    assert (resumed.data["new_deadline"], resumed.data["paused_working_days"]) == (PENDING_LABEL, None)
    full = load_2027(session)
    # The date a resume with the notice loaded gives: the deadline moved by the working days paused
    # (25, 28–31 December, 4 and 5 January).
    expected = full.add_working_days(deadline, full.working_days_between(paused_on, resumed_on))
    assert expected == dt.date(2026, 12, 31)
    assert pending(case(session, cid))[3] == expected
    [resolved] = events(session, "complaint", cid, "deadline_resolved")
    assert resolved.data["deadline"] == expected.isoformat()
    told = {m.recipient_name: m.context["deadline"] for m in mails(session, cid, "deadline_set")}
    assert told == {"市住房和城乡建设局": "2026-12-31", "市发展和改革委员会": "2026-12-31"}
    # Supervision goes on from the date: 督办 is due on 6 January (3 working days overdue).
    supervise(session, dt.date(2027, 1, 6))
    assert events(session, "complaint", cid, "supervise")


def test_a_deadline_owing_fewer_than_no_days_counts_back_from_the_last_working_day() -> None:
    calendar = WorkCalendar()
    saturday = dt.date(2026, 3, 7)
    assert due_day(calendar, saturday, -1) == dt.date(2026, 3, 5)  # Friday counts as none, then Thursday
    assert due_day(calendar, dt.date(2026, 3, 10), -2) == dt.date(2026, 3, 6)
    assert due_day(calendar, dt.date(2026, 3, 10), 2) == dt.date(2026, 3, 12)


def review(session: Session) -> Pledge:
    pledge = new_pledge(session, DEADLINE)
    submit(session, pledge, dt.date(2026, 3, 4))  # review due 2026-03-11
    session.expire_all()
    found = session.get(Pledge, _id(pledge))
    assert found is not None
    return found


def review_mails(session: Session, pledge: Pledge) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(
        Notification.case_kind == "pledge",
        Notification.case_id == _id(pledge),
        Notification.template == "pledge_review_notice",
    )
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def test_an_evidence_review_escalated_by_hand_reaches_the_authoritys_competent_department(
    session: Session, staff: Staff
) -> None:
    pledge = review(session)
    chaser = Actor(name="督办员", role=Role.SUPERVISOR)
    chase_review(session=session, pledge=pledge, action="review_escalate", actor=chaser,
                 today=dt.date(2026, 3, 18), calendar=load_calendar(session=session), note=None,
                 expected_version=None)  # fmt: skip
    session.commit()
    departments = [
        (m.recipient_name, m.context["department_name"])
        for m in review_mails(session, pledge)
        if m.recipient_kind == "department"
    ]
    assert departments == [
        ("市住房和城乡建设局", "市住房和城乡建设局"),
        ("市发展和改革委员会", "市发展和改革委员会"),
    ]


def test_an_evidence_review_is_not_sent_the_flows_supervise_after_one_by_hand(
    session: Session, staff: Staff
) -> None:
    pledge = review(session)
    calendar = load_calendar(session=session)
    chaser = Actor(name="督办员", role=Role.SUPERVISOR)
    chase_review(session=session, pledge=pledge, action="review_supervise", actor=chaser,
                 today=dt.date(2026, 3, 12), calendar=calendar, note=None, expected_version=None)  # fmt: skip
    session.commit()
    for day in (12, 13, 16, 17, 18):
        supervise_reviews(session=session, ids=[_id(pledge)], actor=SYSTEM, today=dt.date(2026, 3, day),
                          calendar=calendar)  # fmt: skip
        session.commit()
    steps = [
        m.context["step_label"] for m in review_mails(session, pledge) if m.recipient_kind == "department"
    ]
    # 黄牌 was not due by 12 March's runs; 红牌 yes; 催办 and the flow's 督办 not after the 督办 by hand.
    assert steps == ["督办", "红牌预警", "提级办理", "提级办理"]

"""A supervisor's 督办 by hand carries their note to the department chased, and the notice says where the
written report it asks for goes: to the office that signs it, as the product has no place to file one; it
sets no deadline of its own (the note may). A 催办 says the system records the result; a 提级办理 tells the
superior the note too; a notice queued before notes were sent still renders."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlmodel import Session, col, select

from models.calendar import WorkCalendar
from models.complaint import Complaint
from models.complaints import ActionBody, act
from models.outbox import Notification
from models.settings import get_settings
from notifications.catalogue import TEMPLATES
from notifications.render import RenderedMessage, cn_date, render
from tests.conftest import Staff
from tests.test_scorecard import SUPERVISOR, _complaint

NOTE = "已超期8个工作日，请今日签收"
OFFICE = "示范市社会信用体系建设领导小组办公室"
LEAD, COMPETENT = "市住房和城乡建设局", "市发展和改革委员会"
DAY = dt.date(2026, 3, 2)


@pytest.fixture
def office(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SHOUXIN_SENDER_ORGANISATION", OFFICE)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _late(session: Session, calendar: WorkCalendar) -> tuple[Complaint, dt.date]:
    """A complaint waiting for D01 to sign for it, well past its deadline."""
    case = _complaint(session, calendar, DAY, "D01")
    session.commit()
    assert case.stage_deadline is not None
    return case, case.stage_deadline + dt.timedelta(days=14)


def _press(
    session: Session, calendar: WorkCalendar, case: Complaint, day: dt.date, step: str, note: str | None
) -> None:
    assert case.id is not None
    act(
        session=session,
        complaint_id=case.id,
        action=step,
        body=ActionBody(note=note),
        actor=SUPERVISOR,
        today=day,
        calendar=calendar,
    )
    session.commit()


def _mails(session: Session, case: Complaint, template: str) -> list[tuple[str, RenderedMessage]]:
    session.expire_all()
    rows = session.exec(
        select(Notification)
        .where(Notification.case_id == case.id, Notification.template == template)
        .order_by(col(Notification.id))
    ).all()
    return [(row.recipient_name, render(row.template, row.context)) for row in rows]


def _dates(text: str) -> set[str]:
    return set(re.findall(r"\d{4}年\d{1,2}月\d{1,2}日", text))


def test_a_supervisors_note_reaches_the_department_with_where_to_report(
    session: Session, staff: Staff, calendar: WorkCalendar, office: None
) -> None:
    case, day = _late(session, calendar)
    _press(session, calendar, case, day, "supervise", NOTE)
    [(to, mail)] = _mails(session, case, "supervision_notice")
    assert to == LEAD
    for part in (mail.text, mail.html):
        assert NOTE in part
        assert f"书面报送{OFFICE}" in re.sub(r"<[^>]+>", "", part)
        assert "本平台不接收书面报告" in part
        assert "报送时限等要求以上述督办意见为准" in part
    # No deadline for the report is made up: the only date is the stage's own.
    assert case.stage_deadline is not None
    assert _dates(mail.text) == {cn_date(case.stage_deadline)}


def test_a_chase_without_a_note_asks_for_no_deadline_and_a_remind_says_the_system_records_the_result(
    session: Session, staff: Staff, calendar: WorkCalendar, office: None
) -> None:
    case, day = _late(session, calendar)
    _press(session, calendar, case, day, "remind", NOTE)
    _press(session, calendar, case, day, "supervise", None)
    [(_, remind), (_, supervise)] = _mails(session, case, "supervision_notice")
    assert NOTE in remind.text
    assert "办理结果由系统记入案件记录" in remind.text
    assert "书面报送" not in remind.text  # a 催办 asks for no report
    assert "督办意见" not in supervise.text
    assert f"书面报送{OFFICE}" in supervise.text
    assert "报送时限" not in supervise.text


def test_an_escalation_by_hand_tells_the_superior_the_note_and_where_to_report(
    session: Session, staff: Staff, calendar: WorkCalendar, office: None
) -> None:
    case, day = _late(session, calendar)
    _press(session, calendar, case, day, "escalate", NOTE)
    [(to, superior)] = _mails(session, case, "escalation_superior_notice")
    assert to == COMPETENT
    for part in (superior.text, superior.html):
        assert NOTE in part
        assert f"书面报送{OFFICE}" in re.sub(r"<[^>]+>", "", part)
    [(_, notice)] = _mails(session, case, "supervision_notice")
    assert NOTE in notice.text
    assert f"已提级至你单位主管部门{COMPETENT}" in notice.text


def test_with_no_office_configured_the_report_goes_to_the_credit_office_by_its_role() -> None:
    get_settings.cache_clear()
    mail = render("supervision_notice", TEMPLATES["supervision_notice"].sample)  # queued before notes: no key
    assert "书面报送信用主管部门（督办人员）" in mail.text
    assert "督办意见" not in mail.text
    assert "书面报送守信平台" not in mail.text

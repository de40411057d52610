"""The chases of a late evidence review (履约材料核查) say what the complaint chases say: a supervisor's 督办
or 提级办理 by hand carries their note to the authority, and the notice says where the written explanation
it asks for goes — the office that signs it, as the product has no place to file one, with no deadline of
its own (the note may set one). The 主管部门 an escalation raises the review to is told as the superior it
is, the supervisors are told as the ones who follow it up, a 红牌 or 催办 asks for no written report, and a
notice queued before these keys existed still renders."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
from sqlmodel import Session, col, select

from models.calendar import load_calendar
from models.lifecycle import Role
from models.org import User
from models.outbox import Notification
from models.pledge import Pledge
from models.pledges import pledge_action
from models.pledges.review import supervise_reviews
from models.settings import get_settings
from models.workflow import Actor
from notifications.catalogue import TEMPLATES
from notifications.render import RenderedMessage, cn_date, render
from tests.conftest import Staff
from tests.test_publication import SYSTEM, _id, new_pledge
from tests.test_publication_hold import DEADLINE, submit

NOTE = "请于3月20日前作出核查结论，并电话报告督办科"
OFFICE = "示范市社会信用体系建设领导小组办公室"
AUTHORITY, COMPETENT = "市住房和城乡建设局", "市发展和改革委员会"
REVIEW_DUE = dt.date(2026, 3, 11)  # evidence handed in on 4 March, 5 working days
LATE = dt.date(2026, 3, 18)  # 5 working days after it


@pytest.fixture
def office(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SHOUXIN_SENDER_ORGANISATION", OFFICE)
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


def _under_review(session: Session) -> Pledge:
    pledge = new_pledge(session, DEADLINE)
    submit(session, pledge, dt.date(2026, 3, 4))
    assert pledge.stage_deadline == REVIEW_DUE
    return pledge


def _press(session: Session, pledge: Pledge, action: str, note: str | None) -> None:
    supervisor = session.exec(select(User).where(User.name == "督办员老李")).one()
    actor = Actor(name=supervisor.name, role=Role.SUPERVISOR, id=supervisor.id)
    session.expire_all()
    pledge_action(
        session=session, pledge_id=_id(pledge), action=action, actor=actor, today=LATE,
        calendar=load_calendar(session=session), expected_version=None, reason=note,
    )  # fmt: skip
    session.commit()


def _mails(session: Session, pledge: Pledge) -> list[tuple[str, str, RenderedMessage]]:
    session.expire_all()
    rows = session.exec(
        select(Notification)
        .where(
            Notification.case_kind == "pledge",
            Notification.case_id == _id(pledge),
            Notification.template == "pledge_review_notice",
        )
        .order_by(col(Notification.id))
    ).all()
    return [(row.recipient_kind, row.recipient_name, render(row.template, row.context)) for row in rows]


def _plain(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html)


def test_a_supervisors_note_reaches_the_authority_with_where_to_report(
    session: Session, staff: Staff, office: None
) -> None:
    pledge = _under_review(session)
    _press(session, pledge, "review_supervise", NOTE)
    [(kind, to, mail)] = [m for m in _mails(session, pledge) if m[0] == "department"]
    assert to == AUTHORITY
    for part in (mail.text, _plain(mail.html)):
        assert f"督办意见：{NOTE}" in " ".join(part.split()).replace("： ", "：")
        assert f"书面报送{OFFICE}" in part
        assert "本平台不接收书面报告" in part
        assert "报送时限等要求以上述督办意见为准" in part
        assert "督办人员" in part  # who pressed it
    # No deadline for the explanation is made up: the only date is the review's own.
    assert set(re.findall(r"\d{4}年\d{1,2}月\d{1,2}日", mail.text)) == {cn_date(REVIEW_DUE)}


def test_an_escalation_by_hand_tells_the_superior_as_such_and_the_authority_where_it_went(
    session: Session, staff: Staff, office: None
) -> None:
    pledge = _under_review(session)
    _press(session, pledge, "review_escalate", NOTE)
    mails = {(kind, to): mail for kind, to, mail in _mails(session, pledge)}
    superior = mails[("department", COMPETENT)]
    for part in (superior.text, _plain(superior.html)):
        assert f"你单位主管的{AUTHORITY}" in part
        assert f"请督促{AUTHORITY}" in part
        assert NOTE in part
        assert f"书面报送{OFFICE}" in part
    assert "请审批部门立即核查" not in superior.text  # it reviews nothing itself
    authority = mails[("department", AUTHORITY)]
    assert f"已提级至你单位主管部门{COMPETENT}" in authority.text
    assert NOTE in authority.text
    # The other supervisors follow it up: addressed as such, not as the authority, and asked for nothing.
    supervisors = [mail for (kind, _), mail in mails.items() if kind == "supervisor"]
    assert supervisors == []  # the only supervisor pressed it
    assert "督办员老李" not in {to for _, to in mails}


def test_the_flows_steps_ask_for_a_written_report_only_from_supervision_on(
    session: Session, staff: Staff, office: None
) -> None:
    pledge = _under_review(session)
    calendar = load_calendar(session=session)
    for day in (dt.date(2026, 3, 12), dt.date(2026, 3, 16)):  # 红牌 and 催办, then 督办
        supervise_reviews(session=session, ids=[_id(pledge)], actor=SYSTEM, today=day, calendar=calendar)
        session.commit()
    sent = {(kind, mail.subject.split("：")[0]): mail for kind, _, mail in _mails(session, pledge)}
    red, remind = sent[("department", "【守信平台】红牌预警")], sent[("department", "【守信平台】催办")]
    supervise = sent[("department", "【守信平台】督办")]
    for mail in (red, remind):
        assert "书面" not in mail.text
    assert "核查结论由系统记入" in remind.text
    assert f"书面报送{OFFICE}" in supervise.text
    for mail in (red, remind, supervise):
        assert "督办意见" not in mail.text
        assert "报送时限" not in mail.text
    # The supervisors' copy is theirs: addressed to them, asking them to follow it up.
    watched = sent[("supervisor", "【守信平台】督办")]
    assert watched.text.startswith("督办工作人员：")
    assert f"{AUTHORITY}负责核查" in watched.text
    assert "书面报送" not in watched.text


def test_a_notice_queued_before_the_new_keys_still_renders_with_the_report_to_the_credit_office() -> None:
    get_settings.cache_clear()
    sample = TEMPLATES["pledge_review_notice"].sample  # 催办, queued before: no step, note nor recipient
    assert "催办" in render("pledge_review_notice", sample).text
    supervised = render("pledge_review_notice", dict(sample, step_label="督办"))
    assert "书面报送信用主管部门（督办人员）" in supervised.text
    assert "督办意见" not in supervised.text
    assert "书面报送守信平台" not in supervised.text


def test_without_an_issuing_office_the_report_goes_to_the_supervisor_who_pressed_and_the_note_names_its_step(
    session: Session, staff: Staff
) -> None:
    pledge = _under_review(session)
    _press(session, pledge, "review_escalate", NOTE)
    [(_, _, mail)] = [m for m in _mails(session, pledge) if m[1] == AUTHORITY]
    for part in (mail.text, _plain(mail.html)):
        flat = " ".join(part.split()).replace("： ", "：")
        assert "书面报送督办人员督办员老李" in flat  # named, not a generic "信用主管部门"
        assert f"提级办理意见：{NOTE}" in flat
        assert "督办意见" not in flat
    assert "（督办人员督办员老李发起）" in mail.text

"""A corrected holiday notice never moves a told deadline earlier; the admin page says what a load moved.

The department was told a rectification deadline of 18 January 2027 (2026's notice then gave 28 and 29
December as holidays). A correction without those holidays would put it on 14 January: on the 15th it
would already be past, warned red and chased the same day with no yellow warning ever sent, towards
拒不整改. A told deadline keeps its date, as a pledge's told publication day does; a correction that
makes it later still moves it, audited and told. A deadline nobody was told (初审, in the intake's own
queue) follows the calendar either way. Overlapping holiday periods in a notice are refused.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.calendar import CalendarYear, parse_year_file, parse_year_notice
from models.calendar_admin import Recomputed, load_year_notice
from models.complaints.bodies import ExtensionRequestBody, OrderRectificationBody, ReasonBody
from models.errors import ValidationFailed
from tests.conftest import Staff
from tests.test_calendar_changes_are_told import queued
from tests.test_december_pending_deadlines import (
    ADMIN,
    EXAMPLE_2027,
    SUPERVISOR,
    case,
    dispatched,
    do,
    events,
    handler,
    registered,
    supervise,
)
from tests.web_support import csrf_of, sign_in
from web.core import CSRF_FIELD

PAGE = "/staff/admin/calendar"
NOTICE_2026: dict[str, Any] = {
    "year": 2026,
    "notice_title": "国务院办公厅关于2026年部分节假日安排的通知",
    "source": "国办发明电〔2025〕7号",
    "holidays": [
        {"name": "元旦", "start": "2026-01-01", "end": "2026-01-03"},
        {"name": "春节", "start": "2026-02-15", "end": "2026-02-23"},
        {"name": "清明", "start": "2026-04-04", "end": "2026-04-06"},
        {"name": "劳动节", "start": "2026-05-01", "end": "2026-05-05"},
        {"name": "端午", "start": "2026-06-19", "end": "2026-06-21"},
        {"name": "中秋", "start": "2026-09-25", "end": "2026-09-27"},
        {"name": "国庆节", "start": "2026-10-01", "end": "2026-10-07"},
    ],
    "workdays": ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"],
}


def notice_2026(*extra: dict[str, str]) -> dict[str, Any]:
    data = copy.deepcopy(NOTICE_2026)
    data["holidays"] += list(extra)
    return data


# The 2026 notice with 28–29 December as holidays; corrected, they are working days again.
WITH_DECEMBER_HOLIDAYS = notice_2026({"name": "临时放假", "start": "2026-12-28", "end": "2026-12-29"})


def load(session: Session, data: dict[str, Any], today: dt.date) -> Recomputed:
    _, _, recomputed = load_year_notice(
        session=session, notice=parse_year_notice(json.dumps(data)), loaded_by="管理员", actor=ADMIN,
        today=today,
    )  # fmt: skip
    session.commit()
    return recomputed


def rectifying(session: Session) -> int:
    """A complaint whose 20-working-day rectification was ordered on 16 December 2026, the department told."""
    h, verifier = handler(session), handler(session, "D00")
    cid = dispatched(session, dt.date(2026, 12, 15))
    do(session, cid, "sign_for", h, dt.date(2026, 12, 15))
    do(session, cid, "verify_true", verifier, dt.date(2026, 12, 16))
    order = OrderRectificationBody(requirements="限期支付合同款项", deadline_days=20)
    do(session, cid, "order_rectification", verifier, dt.date(2026, 12, 16), order)
    return cid


def told_deadlines(session: Session, cid: int) -> set[str]:
    """Every deadline the department was mailed for the case (the order, and any deadline_set)."""
    told = queued(session, "rectification_ordered", cid) + queued(session, "deadline_set", cid)
    return {n.context["deadline"] for n in told}


def test_a_corrected_notice_never_moves_a_told_rectification_deadline_earlier_nor_past(
    session: Session, staff: Staff
) -> None:
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    load(session, WITH_DECEMBER_HOLIDAYS, dt.date(2026, 12, 1))
    cid = rectifying(session)
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 18)
    assert told_deadlines(session, cid) == {"2027-01-18"}
    first_review = registered(session, dt.date(2026, 12, 24))  # 初审: shown in the queue, mailed to nobody
    assert case(session, first_review).stage_deadline == dt.date(2026, 12, 30)

    recomputed = load(session, NOTICE_2026, dt.date(2027, 1, 15))  # the correction, on 15 January

    assert case(session, cid).stage_deadline == dt.date(2027, 1, 18)  # not 14 January, already past
    assert events(session, "complaint", cid, "deadline_recomputed") == []
    assert told_deadlines(session, cid) == {"2027-01-18"}
    assert recomputed.kept == [case(session, cid).number]
    assert recomputed.told_moved == []
    # Nobody was told the first review's date: it follows the corrected calendar.
    assert case(session, first_review).stage_deadline == dt.date(2026, 12, 28)
    assert len(events(session, "complaint", first_review, "deadline_recomputed")) == 1
    # Supervision on the 15th sees a deadline still ahead: nothing red, nothing chased.
    supervise(session, dt.date(2027, 1, 15))
    fired = {e.event for e in events(session, "complaint", cid)}
    assert not fired & {"warn_red", "remind", "supervise", "escalate"}


@pytest.mark.parametrize("detour", ["extension refused", "paused and resumed"])
def test_a_kept_told_deadline_stays_when_the_stage_is_counted_again(
    session: Session, staff: Staff, detour: str
) -> None:
    # An extension decided or a pause resumed counts the stage again from its start and working days:
    # from those of the corrected calendar, that gave 14 January, already past.
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    load(session, WITH_DECEMBER_HOLIDAYS, dt.date(2026, 12, 1))
    cid = rectifying(session)
    load(session, NOTICE_2026, dt.date(2027, 1, 15))
    day = dt.date(2027, 1, 15)
    if detour == "extension refused":
        body = ExtensionRequestBody(days=5, reason="需协调资金拨付")
        do(session, cid, "request_extension", handler(session), day, body)
        do(session, cid, "refuse_extension", SUPERVISOR, day, ReasonBody(reason="理由不充分，不予延期"))
        assert [m.context["new_deadline"] for m in queued(session, "extension_decision", cid)] == [
            "2027-01-18"
        ]
    else:
        do(session, cid, "await_complainant", handler(session), day, ReasonBody(reason="待补充合同材料"))
        do(session, cid, "resume", handler(session), day)
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 18)
    supervise(session, day)
    fired = {e.event for e in events(session, "complaint", cid)}
    assert not fired & {"warn_red", "remind"}


def test_a_correction_that_makes_a_told_deadline_later_still_moves_it_and_tells_the_department(
    session: Session, staff: Staff
) -> None:
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    load(session, NOTICE_2026, dt.date(2026, 12, 1))
    cid = rectifying(session)
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 14)

    recomputed = load(session, WITH_DECEMBER_HOLIDAYS, dt.date(2026, 12, 20))

    assert case(session, cid).stage_deadline == dt.date(2027, 1, 18)
    [moved] = events(session, "complaint", cid, "deadline_recomputed")
    assert (moved.data["old_deadline"], moved.data["deadline"]) == ("2027-01-14", "2027-01-18")
    assert told_deadlines(session, cid) == {"2027-01-14", "2027-01-18"}
    assert recomputed.told_moved == [case(session, cid).number]
    assert recomputed.kept == []


@pytest.mark.parametrize(
    ("second", "shared"),
    [
        ({"name": "重叠", "start": "2026-10-05", "end": "2026-10-09"}, "2026-10-05（星期一） 至 2026-10-07"),
        ({"name": "补假", "start": "2026-09-27", "end": "2026-09-27"}, "2026-09-27（星期日）"),
    ],
)
def test_overlapping_holiday_periods_are_refused_naming_both_and_the_shared_dates(
    second: dict[str, str], shared: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        parse_year_notice(json.dumps(notice_2026(second)))
    message = refused.value.message
    assert f"“{second['name']}”" in message
    assert "重叠" in message
    assert shared in message
    assert ("“国庆节”" if second["name"] == "重叠" else "“中秋”") in message


def test_the_admin_page_refuses_overlapping_periods_and_stores_nothing(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    overlapping = notice_2026({"name": "重叠", "start": "2026-10-05", "end": "2026-10-09"})
    refused = client.post(
        PAGE,
        data={CSRF_FIELD: csrf_of(client, PAGE), "confirm": "1", "notice": json.dumps(overlapping)},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert "“国庆节”" in refused.text
    assert "“重叠”" in refused.text
    assert session.exec(select(CalendarYear).where(CalendarYear.year == 2026)).first() is None


def _confirm(client: TestClient, data: dict[str, Any]) -> str:
    """Preview then confirm ``data`` on the page, as an administrator does; the page drawn after it."""
    text = json.dumps(data, ensure_ascii=False)
    preview = client.post(PAGE, data={CSRF_FIELD: csrf_of(client, PAGE), "confirm": "0", "notice": text})
    previewed = re.search(r'name="previewed" value="([^"]*)"', preview.text)
    assert previewed
    saved = client.post(
        PAGE,
        data={CSRF_FIELD: csrf_of(client, PAGE), "confirm": "1", "notice": text, "previewed": previewed[1]},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    return client.get(saved.headers["location"]).text


def test_the_admin_page_after_a_load_says_what_was_recomputed_and_whose_told_date_moved(
    client: TestClient, staff: Staff, session: Session
) -> None:
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    load(session, NOTICE_2026, dt.date(2026, 12, 1))
    cid = rectifying(session)
    number = case(session, cid).number
    sign_in(client, staff.admin)

    later = _confirm(client, WITH_DECEMBER_HOLIDAYS)
    assert "已保存放假通知，2 天的工作日安排发生变化" in later
    assert "确定或调整 1 个办理期限" in later
    assert re.search(rf'id="calendar-told-moved">[^<]*{number}', later)

    back = _confirm(client, NOTICE_2026)  # would put the told 18 January back to the 14th: kept
    assert 'id="calendar-told-moved"' not in back
    assert "另有 1 个已告知的办理期限按更正后的日历会提前，已维持已告知的日期" in back
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 18)


def test_the_admin_page_names_the_first_twenty_told_dates_moved_and_counts_the_rest(
    client: TestClient, staff: Staff
) -> None:
    sign_in(client, staff.admin)
    numbers = ",".join(f"TS2027{n:06d}" for n in range(1, 21))
    page = client.get(PAGE, params={"year": 2026, "saved": 2, "publication_days": 3, "deadlines": 25,
                                    "moved": numbers, "moved_total": 25}).text  # fmt: skip
    assert "已重新计算 3 件告知承诺的公示日，确定或调整 25 个办理期限" in page
    assert "TS2027000020 等 25 件" in page


def test_a_told_date_a_correction_makes_a_holiday_moves_to_the_next_working_day_once(
    session: Session, staff: Staff
) -> None:
    # Told 31 December; the correction drops 28–29 December as holidays and makes the 31st one: the told
    # day cannot stay (no working day) nor come earlier, so it goes to the next working day, told once.
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    load(session, WITH_DECEMBER_HOLIDAYS, dt.date(2026, 12, 1))
    cid = dispatched(session, dt.date(2026, 12, 15))
    do(session, cid, "sign_for", handler(session), dt.date(2026, 12, 15))
    do(session, cid, "verify_true", handler(session, "D00"), dt.date(2026, 12, 16))
    body = OrderRectificationBody(requirements="限期支付合同款项", deadline_days=9)
    do(session, cid, "order_rectification", handler(session, "D00"), dt.date(2026, 12, 16), body)
    assert case(session, cid).stage_deadline == dt.date(2026, 12, 31)

    corrected = notice_2026({"name": "临时放假", "start": "2026-12-31", "end": "2026-12-31"})
    first = load(session, corrected, dt.date(2026, 12, 21))
    assert case(session, cid).stage_deadline == dt.date(2027, 1, 4)
    assert first.told_moved == [case(session, cid).number]
    assert told_deadlines(session, cid) == {"2026-12-31", "2027-01-04"}
    # The same notice loaded again changes nothing and tells nobody.
    again = load(session, corrected, dt.date(2026, 12, 22))
    assert (again.told_moved, again.kept) == ([], [])
    assert len(events(session, "complaint", cid, "deadline_recomputed")) == 1

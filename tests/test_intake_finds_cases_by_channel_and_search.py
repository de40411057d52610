"""An intake clerk's day with complaints arriving by 12345, the window and the 信用网站专栏: the clerk
opens the complaint list, narrows it to one channel and finds a duplicate before merging (并单) by the
complainant's credit code or the respondent's name; the dashboard counts the complaints by channel."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import Session

from models.calendar import WorkCalendar
from models.complaint import Complaint, ComplaintCreate
from models.complaints.registration import register_complaint
from models.lifecycle import ComplaintState, Role
from models.workflow import Actor
from tests.conftest import TODAY, Staff
from tests.test_publication import CODE
from tests.web_support import sign_in

INTAKE = Actor(name="受理员", role=Role.INTAKE)


def _register(
    session: Session, calendar: WorkCalendar, channel: str, summary: str, **extra: str
) -> Complaint:
    data = ComplaintCreate.model_validate(
        {
            "channel": channel,
            "complainant_name": "示范建工集团有限公司",
            "complainant_phone": "13800138000",
            "category": "sme_arrears",
            "summary": summary,
            **extra,
        }
    )
    case, _ = register_complaint(session=session, data=data, actor=INTAKE, today=TODAY, calendar=calendar)
    session.commit()
    return case


def _listed(client: TestClient, **params: str) -> set[str]:
    page = client.get("/staff/complaints", params=params)
    assert page.status_code == 200, page.text
    return set(re.findall(r'href="/staff/complaints/\d+">([^<]+)</a>', page.text))


def test_an_intake_clerk_narrows_the_complaint_list_to_one_channel(
    client: TestClient, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    hotline = _register(session, calendar, "hotline", "12345转来拖欠工程款")
    window = _register(session, calendar, "window", "窗口登记拖欠工程款")
    online = _register(session, calendar, "website", "专栏提交拖欠工程款")
    sign_in(client, staff.intake)

    page = client.get("/staff/complaints")
    assert page.status_code == 200
    assert '<option value="website" >信用网站专栏</option>' in page.text
    # The clerk cannot open the dashboard, so the page does not send them there.
    assert 'href="/staff/dashboard"' not in page.text
    assert _listed(client) == {hotline.number, window.number, online.number}
    assert _listed(client, channel="website") == {online.number}
    chosen = client.get("/staff/complaints", params={"channel": "website"}).text
    assert '<option value="website" selected>信用网站专栏</option>' in chosen
    assert "来自信用网站专栏（1 件）" in chosen
    assert _listed(client, channel="hotline", q="窗口") == set()


def test_an_unknown_channel_is_refused_not_an_empty_list(client: TestClient, staff: Staff) -> None:
    sign_in(client, staff.intake)
    assert client.get("/staff/complaints", params={"channel": "fax"}).status_code == 422


def test_a_duplicate_is_found_by_credit_code_from_its_start_or_by_respondent_name(
    client: TestClient, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    first = _register(
        session,
        calendar,
        "hotline",
        "拖欠货款",
        complainant_credit_code=CODE,
        respondent_name="新城区建设管理中心",
    )
    again = _register(session, calendar, "website", "再次反映拖欠货款", respondent_name="新城区建设管理中心")
    other = _register(session, calendar, "window", "其他事项")
    sign_in(client, staff.intake)

    # Typed in lower case, or only its first characters: the code is stored upper-case.
    assert _listed(client, q=CODE.lower()) == {first.number}
    assert _listed(client, q=CODE[:8]) == {first.number}
    assert _listed(client, q=CODE[8:]) == set()  # from its start only, not anywhere inside
    assert _listed(client, q="建设管理") == {first.number, again.number}
    assert _listed(client, q="建设管理", channel="website") == {again.number}
    assert other.number not in _listed(client, q="拖欠")
    # The API's list matches the same way.
    found = client.get("/api/v1/complaints", params={"q": CODE[:8].lower()}, headers=staff.auth("intake"))
    assert [c["number"] for c in found.json()["items"]] == [first.number]
    found = client.get("/api/v1/complaints", params={"q": "建设管理中心"}, headers=staff.auth("intake"))
    assert {c["number"] for c in found.json()["items"]} == {first.number, again.number}


def test_a_search_term_with_a_wildcard_character_matches_it_literally(
    client: TestClient, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    _register(session, calendar, "hotline", "拖欠工程款")
    sign_in(client, staff.intake)
    assert _listed(client, q="%") == set()


def test_the_dashboard_counts_complaints_by_channel_and_opens_each_channels_list(
    client: TestClient, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    online = _register(session, calendar, "website", "专栏提交拖欠工程款")
    closed = _register(session, calendar, "website", "专栏提交已办结")
    _register(session, calendar, "hotline", "12345转来拖欠工程款")
    session.execute(
        update(Complaint).where(Complaint.id == closed.id).values(state=ComplaintState.NOT_ACCEPTED)  # type: ignore[arg-type]
    )
    session.commit()
    sign_in(client, staff.supervisor)

    page = client.get("/staff/dashboard").text
    tile = r'<a href="/staff/complaints\?channel=(\w+)"><span class="n">(\d+)</span>'
    tiles = dict(re.findall(tile, page))
    assert tiles == {"hotline": "1", "website": "2"}  # a count of 0 is shown, not linked to an empty list
    assert page.count('<li class="zero"><span class="n">0</span><span class="l">') >= 2
    assert "信用网站专栏（在办 1）" in page
    assert "线下投诉窗口（在办 0）" in page
    assert _listed(client, channel="website") == {online.number, closed.number}

"""Supervisors' pages: a dashboard whose counts and case numbers open the cases, its red alarms (missed
publication, credit platform), the scorecard by period with every department that acted and its XLSX
export, the credit platform's admin page, the health warnings and the charts' labels."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.deps import actor_of
from models import scorecard
from models.calendar import WorkCalendar
from models.clock import Clock, utcnow
from models.complaints import ActionBody, ExplanationBody
from models.errors import ValidationFailed
from models.lifecycle import PledgeState, Role
from models.org import Department, User
from models.platform import DocumentStatus, PlatformDocument
from models.pledge import Pledge
from models.scorecard_pledges import EXPORT_HEADERS, pledge_scores
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_complaints_api import register
from tests.test_publication import CODE, new_pledge
from tests.test_register import access_code, publish
from tests.test_scorecard import _complaint, _run
from tests.web_support import csrf_of, sign_in
from web import charts
from web.core import CSRF_FIELD

MARCH = scorecard.period_of("month", dt.date(2026, 3, 2))


def _this_month() -> scorecard.Period:
    """The month the tests run in: rows and events are stamped with the real time, not the pinned today."""
    return scorecard.period_of("month", Clock.from_settings().local_date(utcnow()))


def _user(session: Session, code: str) -> User:
    dept = session.exec(select(Department).where(Department.code == code)).one()
    return session.exec(select(User).where(User.department_id == dept.id, User.role == Role.HANDLER)).first()  # type: ignore[return-value]


def test_dashboard_counts_and_case_numbers_open_the_cases(
    client: TestClient, session: Session, staff: Staff, calendar: WorkCalendar
) -> None:
    late = _complaint(session, calendar, dt.date(2026, 2, 2), "D01")  # its 签收 deadline passed long ago
    reviewed = new_pledge(session, dt.date(2026, 4, 30), name="张小三", code=None)
    session.execute(
        update(Pledge)
        .where(Pledge.id == reviewed.id)  # type: ignore[arg-type]
        .values(state=PledgeState.EVIDENCE_SUBMITTED, stage_deadline=dt.date(2026, 3, 6))
    )
    session.commit()
    sign_in(client, staff.supervisor)
    page = client.get("/staff/dashboard").text

    assert f'href="/staff/complaints/{late.id}">{late.number}</a>' in page  # the overdue list
    assert 'href="/staff/complaints?state=dispatched"' in page
    assert f'href="/staff/pledges/{reviewed.id}">{reviewed.number}</a>' in page  # review deadlines
    assert "2026-03-06" in page
    door = re.search(r'href="(/staff/dashboard/awaiting\?awaits=D01&amp;overdue=true)">(\d+)</a>', page)
    assert door is not None
    assert door[2] == "1"
    listed = client.get(door[1].replace("&amp;", "&"))
    assert listed.status_code == 200
    assert f'href="/staff/complaints/{late.id}">{late.number}</a>' in listed.text
    assert "（1 件）" in listed.text
    # The same list by state holds the case; a state that does not exist is refused, not an empty list.
    assert late.number in client.get("/staff/complaints?state=dispatched").text
    assert late.number not in client.get("/staff/complaints?state=closed").text
    assert client.get("/staff/complaints?state=nonsense").status_code == 409


def test_a_pledge_past_its_publication_day_left_unpublished_is_a_red_alarm(
    client: TestClient, session: Session, staff: Staff
) -> None:
    missed = new_pledge(session, dt.date(2026, 2, 2))  # its publication day is in February
    held = new_pledge(session, dt.date(2026, 2, 2), name="李四", code=None)
    session.execute(update(Pledge).where(Pledge.id == missed.id).values(state=PledgeState.OVERDUE))  # type: ignore[arg-type]
    # Evidence handed in on time holds publication until the authority decides: not a missed sweep.
    session.execute(
        update(Pledge)
        .where(Pledge.id == held.id)  # type: ignore[arg-type]
        .values(state=PledgeState.EVIDENCE_SUBMITTED, evidence_submitted_on=dt.date(2026, 2, 1))
    )
    session.commit()
    sign_in(client, staff.supervisor)
    page = client.get("/staff/dashboard").text
    alarm = page[page.index('id="missed-publications"') :]
    alarm = alarm[: alarm.index("</section>")]
    assert "公示日已过未公示（1 件）" in alarm
    assert f'href="/staff/pledges/{missed.id}">{missed.number}</a>' in alarm
    assert held.number not in alarm


def test_credit_platform_alarms_on_the_dashboard_and_in_health(
    client: TestClient, session: Session, staff: Staff
) -> None:
    # The tests configure no credit platform and no demo mode: that is an alarm.
    health = client.get("/api/v1/health")
    assert health.status_code == 200
    assert any("未配置信用平台推送地址" in w for w in health.json()["warnings"])
    sign_in(client, staff.admin)
    page = client.get("/staff/dashboard").text
    assert 'id="platform-alarm"' in page
    assert 'href="/staff/admin/platform"' in page
    sign_in(client, staff.supervisor)  # a supervisor cannot open the admin page: told who acts instead
    assert 'href="/staff/admin/platform"' not in client.get("/staff/dashboard").text


def test_no_platform_alarm_when_a_platform_is_configured(
    client: TestClient, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_URL", "http://127.0.0.1:9/push")
    monkeypatch.setenv("SHOUXIN_CREDIT_PLATFORM_SECRET", "a-real-random-secret-for-tests")
    get_settings.cache_clear()
    assert not [w for w in client.get("/api/v1/health").json()["warnings"] if "信用平台" in w]
    sign_in(client, staff.supervisor)
    assert 'id="platform-alarm"' not in client.get("/staff/dashboard").text


def test_admin_platform_page_lists_documents_by_state_and_retries_a_failed_one(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    publish(engine, session, ("示范建设有限公司", CODE), ("张小三", None))
    first, second = session.exec(select(PlatformDocument).order_by(PlatformDocument.id)).all()  # type: ignore[arg-type]
    session.execute(
        update(PlatformDocument)
        .where(PlatformDocument.id == first.id)  # type: ignore[arg-type]
        .values(status=DocumentStatus.DEAD, attempts=1, last_error="HTTP 400: 统一社会信用代码校验位错误")
    )
    session.execute(
        update(PlatformDocument)
        .where(PlatformDocument.id == second.id)  # type: ignore[arg-type]
        .values(status=DocumentStatus.ACKNOWLEDGED, receipt_id="R-42")
    )
    session.commit()
    sign_in(client, staff.admin)
    page = client.get("/staff/admin/platform").text
    counts = dict(re.findall(r'status=(\w+)"[^>]*><span class="n">(\d+)</span>', page))
    assert counts == {"pending": "0", "sent": "0", "acknowledged": "1", "dead": "1", "handled": "0"}
    assert "统一社会信用代码校验位错误" in page
    assert "回执 R-42" in page
    failed = client.get("/staff/admin/platform?status=dead").text
    assert first.document_id in failed
    assert second.document_id not in failed

    url = f"/staff/admin/platform/{first.document_id}/retry"
    assert client.post(url, data={CSRF_FIELD: "forged"}).status_code == 403  # the CSRF page
    done = client.post(url, data={CSRF_FIELD: csrf_of(client, "/staff/admin/platform")})
    assert done.status_code == 200
    assert "已将失败的文档重新列入待推送" in done.text
    session.expire_all()
    assert session.get(PlatformDocument, first.id).status == DocumentStatus.PENDING  # type: ignore[union-attr]
    again = client.post(url, data={CSRF_FIELD: csrf_of(client, "/staff/admin/platform")})
    assert again.status_code == 409  # only a failed document is retried


def test_periods_month_quarter_year_and_custom() -> None:
    day = dt.date(2026, 5, 17)
    assert (MARCH.start, MARCH.end, MARCH.label) == (dt.date(2026, 3, 1), dt.date(2026, 3, 31), "2026年3月")
    quarter = scorecard.period_of("quarter", day)
    assert (quarter.start, quarter.end, quarter.label) == (
        dt.date(2026, 4, 1),
        dt.date(2026, 6, 30),
        "2026年第2季度",
    )
    assert scorecard.period_of("year", day).end == dt.date(2026, 12, 31)
    assert quarter.shifted(-1).label == "2026年第1季度"
    assert scorecard.period_of("month", dt.date(2026, 12, 5)).shifted(1).label == "2027年1月"
    custom = scorecard.period_of("custom", day, start=dt.date(2026, 1, 10), end=dt.date(2026, 1, 19))
    assert custom.shifted(1).start == dt.date(2026, 1, 20)
    # Midnight in Shanghai: 16:00 UTC the day before.
    assert MARCH.bounds()[0] == dt.datetime(2026, 2, 28, 16, tzinfo=dt.UTC)
    for bad in (
        {"start": dt.date(2026, 2, 1), "end": dt.date(2026, 1, 1)},
        {"start": dt.date(2020, 1, 1), "end": dt.date(2026, 1, 1)},
        {"start": None, "end": dt.date(2026, 1, 1)},
    ):
        with pytest.raises(ValidationFailed):
            scorecard.period_of("custom", day, **bad)
    with pytest.raises(ValidationFailed):
        scorecard.period_of("week", day)


def test_the_competent_department_that_verified_has_a_scorecard_row(
    session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    case = _complaint(session, calendar, today, "D01")
    _run(
        session, calendar, today, case,
        (actor_of(_user(session, "D01")), "sign_for", ActionBody()),
        (actor_of(_user(session, "D00")), "verify_untrue", ExplanationBody(explanation="合同已履行")),
    )  # fmt: skip
    session.commit()
    now = _this_month()
    rows = {r.code: r for r in scorecard.department_scores(session=session, today=today, period=now)}
    assert set(rows) == {"D00", "D01"}
    assert (rows["D00"].handled, rows["D00"].acted, rows["D00"].verified) == (0, 1, 1)
    assert (rows["D01"].handled, rows["D01"].acted, rows["D01"].verified) == (1, 1, 0)
    # The month before: the case was registered and handled in this one.
    assert scorecard.department_scores(session=session, today=today, period=now.shifted(-1)) == []


def test_pledge_scores_fulfilment_publications_and_objections_by_outcome(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))  # due 02-12, published 02-28
    kept = new_pledge(session, dt.date(2026, 2, 20), name="李四", code=None)
    session.execute(update(Pledge).where(Pledge.id == kept.id).values(state=PledgeState.FULFILLED))  # type: ignore[arg-type]
    session.commit()
    url = f"/api/v1/public/breaches/{breach.number}/objection"
    lodged = client.post(url, json={"access_code": access_code(session, breach), "reason": "已按期提交材料"})
    assert lodged.status_code == 201, lodged.text
    decided = client.post(
        f"/api/v1/breaches/{breach.id}/actions/reject_objection",
        json={"reason": "材料未按期提交"},
        headers=staff.auth("handler"),
    )
    assert decided.status_code == 200, decided.text

    february = scorecard.period_of("month", dt.date(2026, 2, 1))
    [row] = pledge_scores(session=session, period=february)
    assert (row.code, row.due, row.fulfilled, row.broken, row.fulfilment_rate) == ("D01", 2, 1, 1, 0.5)
    assert row.published == 1
    assert row.objections == 0  # lodged now, not in February
    [row] = pledge_scores(session=session, period=_this_month())
    assert (row.objections, row.objections_rejected, row.objections_withdrawn, row.due) == (1, 1, 0, 0)


def test_scorecard_page_by_period_and_its_xlsx_export(
    client: TestClient, session: Session, staff: Staff, calendar: WorkCalendar, today: dt.date
) -> None:
    case = _complaint(session, calendar, today, "D01")
    _run(session, calendar, today, case, (actor_of(_user(session, "D01")), "sign_for", ActionBody()))
    # A name a spreadsheet would run as a formula is exported as text.
    session.execute(update(Department).where(Department.code == "D01").values(name="=1+1 住建局"))  # type: ignore[arg-type]
    session.commit()
    sign_in(client, staff.supervisor)
    month = _this_month()
    quarter = scorecard.period_of("quarter", month.start)
    page = client.get(f"/staff/scorecard?period=quarter&at={month.start.isoformat()}")
    assert page.status_code == 200
    assert quarter.label in page.text
    assert "D01 =1+1 住建局" in page.text
    assert f'href="/staff/scorecard.xlsx?period=quarter&amp;at={quarter.start.isoformat()}"' in page.text
    assert "本期没有部门办理投诉" in client.get("/staff/scorecard?period=year&at=2025-06-01").text
    refused = client.get("/staff/scorecard?period=custom&start=2026-03-05&end=2026-03-01")
    assert refused.status_code == 422
    assert "结束日期早于开始日期" in refused.text

    export = client.get(f"/staff/scorecard.xlsx?period=month&at={month.start.isoformat()}")
    assert export.status_code == 200
    assert (
        f"scorecard-{month.start.isoformat()}-{month.end.isoformat()}.xlsx"
        in export.headers["content-disposition"]
    )
    sheet = load_workbook(io.BytesIO(export.content)).active
    assert sheet is not None
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header == EXPORT_HEADERS
    [d01] = [r for r in rows if r[0] == "D01"]
    assert d01[1] == "'=1+1 住建局"
    assert d01[2] == 1  # 承办件数


def test_chart_labels_fit_and_a_narrow_chart_for_phones(session: Session) -> None:
    long_name = "示范市人力资源和社会保障局"
    row = scorecard.DepartmentScore(
        code="RSJ", name=long_name, handled=2, on_time=1, closed=0, redone=0, breaches=0, satisfied=0, rated=0
    )
    for narrow in (False, True):
        svg = charts.on_time_chart([row], narrow=narrow).decode()
        label = charts.short_label(long_name, narrow)
        assert len(label) <= charts.LABEL_CHARS[narrow]
        width = 360 if narrow else 640
        assert f'width="{width}"' in svg
        # The label is drawn right-aligned at x inside the plot's translation: all of it must fit.
        plot = re.search(r'<g transform="translate\(([\d.]+), [\d.]+\)" class="plot">', svg)
        at = re.search(rf'<text[^>]*x="(-?[\d.]+)"[^>]*>{re.escape(label)}</text>', svg)
        assert plot is not None
        assert at is not None
        font = 14 if narrow else 12
        assert float(plot[1]) + float(at[1]) >= len(label) * font


def test_a_count_of_nothing_on_the_dashboard_opens_no_empty_list(client: TestClient, staff: Staff) -> None:
    register(client, staff)  # one registered complaint, nothing in any other state
    sign_in(client, staff.supervisor)
    page = client.get("/staff/dashboard").text
    tiles = page[page.index('id="state-counts"') : page.index("</ul>", page.index('id="state-counts"'))]
    assert '<a href="/staff/complaints?state=registered">' in tiles
    assert "state=closed" not in tiles  # 0 closed: the tile is a figure, not a door
    assert '<li class="zero"><span class="n">0</span>' in tiles

"""Administration endpoints: departments, users, calendar preview/load, the outbox."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.calendar import WorkCalendar
from models.outbox import Notification, NotificationStatus, enqueue
from tests.conftest import Staff


def test_only_admins_create_users_and_the_token_is_shown_once(client: TestClient, staff: Staff) -> None:
    body = {"name": "新经办人", "role": "handler", "department_code": "D02", "email": "n@example.gov.cn"}
    assert client.post("/api/v1/admin/users", json=body, headers=staff.auth("supervisor")).status_code == 403
    r = client.post("/api/v1/admin/users", json=body, headers=staff.auth("admin"))
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert client.get("/api/v1/health", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    listed = client.get("/api/v1/admin/users", headers=staff.auth("admin")).json()
    assert all("token" not in u and "token_hash" not in u for u in listed)


def test_no_or_bad_token_is_401(client: TestClient, staff: Staff) -> None:
    assert client.get("/api/v1/admin/departments").status_code == 401
    r = client.get("/api/v1/admin/departments", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    assert "令牌" in r.json()["message"]


def test_handler_may_not_use_admin_pages(client: TestClient, staff: Staff) -> None:
    assert client.get("/api/v1/admin/departments", headers=staff.auth("handler")).status_code == 403
    assert client.get("/api/v1/admin/departments", headers=staff.auth("supervisor")).status_code == 200


def test_calendar_preview_does_not_store_and_load_does(client: TestClient, staff: Staff) -> None:
    notice = {
        "year": 2027,
        "notice_title": "示例",
        "source": "test",
        "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}],
        "workdays": [],
    }
    preview = client.post("/api/v1/admin/calendar?dry_run=true", json=notice, headers=staff.auth("admin"))
    assert preview.status_code == 200, preview.text
    assert preview.json()["saved"] is False
    assert preview.json()["changes"]
    assert client.get("/api/v1/admin/calendar/2027", headers=staff.auth("admin")).status_code == 422
    saved = client.post("/api/v1/admin/calendar", json=notice, headers=staff.auth("admin"))
    assert saved.json()["saved"] is True
    year = client.get("/api/v1/admin/calendar/2027", headers=staff.auth("intake")).json()
    assert {"date": "2027-01-01", "kind": "holiday", "name": "元旦"} in year["days"]


def test_a_calendar_save_carrying_its_preview_is_refused_after_another_admin_loaded_the_year(
    client: TestClient, staff: Staff
) -> None:
    admin = staff.auth("admin")
    notice = {"year": 2027, "notice_title": "示例", "source": "test", "holidays": [], "workdays": []}
    notice["holidays"] = [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-03"}]
    preview = client.post("/api/v1/admin/calendar?dry_run=true", json=notice, headers=admin).json()
    corrected = {
        **notice,
        "notice_title": "更正",
        "holidays": [{"name": "元旦", "start": "2027-01-01", "end": "2027-01-04"}],
    }
    assert client.post("/api/v1/admin/calendar", json=corrected, headers=admin).status_code == 200
    stale = client.post(
        "/api/v1/admin/calendar", params={"previewed": preview["previewed"]}, json=notice, headers=admin
    )
    assert stale.status_code == 409, stale.text
    year = client.get("/api/v1/admin/calendar/2027", headers=admin).json()
    assert {"date": "2027-01-04", "kind": "holiday", "name": "元旦"} in year["days"]  # the correction stays
    fresh = client.post("/api/v1/admin/calendar?dry_run=true", json=notice, headers=admin).json()
    again = client.post(
        "/api/v1/admin/calendar", params={"previewed": fresh["previewed"]}, json=notice, headers=admin
    )
    assert again.status_code == 200, again.text


def test_calendar_rejects_a_weekday_make_up_day(client: TestClient, staff: Staff) -> None:
    notice = {"year": 2027, "notice_title": "x", "source": "y", "holidays": [], "workdays": ["2027-01-05"]}
    r = client.post("/api/v1/admin/calendar", json=notice, headers=staff.auth("admin"))
    assert r.status_code == 422
    assert "2027" in r.text


def test_dead_notification_can_be_retried(client: TestClient, staff: Staff, session: Session) -> None:
    row = session.get(
        Notification,
        enqueue(
            session=session,
            template="complaint_received",
            recipient_kind="complainant",
            recipient_name="张三",
            recipient_email="z@example.com",
            key="k",
            context={},
        ),
    )
    assert row is not None
    row.status = NotificationStatus.DEAD
    row.last_error = "550 mailbox unavailable"
    session.commit()
    dead = client.get("/api/v1/admin/notifications?status=dead", headers=staff.auth("supervisor")).json()
    assert [n["id"] for n in dead] == [row.id]
    r = client.post(f"/api/v1/admin/notifications/{row.id}/retry", headers=staff.auth("admin"))
    assert r.status_code == 200
    assert r.json()["status"] == "pending"
    again = client.post(f"/api/v1/admin/notifications/{row.id}/retry", headers=staff.auth("admin"))
    assert again.status_code == 409
    session.expire_all()
    stored = session.get(Notification, row.id)
    assert stored is not None
    assert stored.status == NotificationStatus.PENDING


def test_loading_a_corrected_year_through_the_api_moves_pending_publication_days(
    client: TestClient, staff: Staff, calendar: WorkCalendar
) -> None:
    pledge = {
        "pledgor_kind": "enterprise",
        "pledgor_name": "示范幕墙工程有限公司",
        "pledgor_credit_code": "91440300708461136T",
        "matter": "建筑工程施工许可证",
        "obligation": "施工图审查合格书",
        "deadline": "2026-09-29",
        "authority_code": "D01",
    }
    r = client.post("/api/v1/pledges", json=pledge, headers=staff.auth("handler"))
    assert r.status_code == 201, r.text
    assert r.json()["publication_day"] == "2026-10-14"
    days = calendar.describe_year(2026)
    notice = {
        "year": 2026,
        "notice_title": "更正：2026年9月30日放假",
        "source": "test",
        "holidays": [
            {"name": d.name, "start": d.date.isoformat(), "end": d.date.isoformat()}
            for d in days
            if d.kind == "holiday"
        ]
        + [{"name": "更正", "start": "2026-09-30", "end": "2026-09-30"}],
        "workdays": [d.date.isoformat() for d in days if d.kind == "workday"],
    }
    saved = client.post("/api/v1/admin/calendar", json=notice, headers=staff.auth("admin"))
    assert saved.status_code == 200, saved.text
    again = client.get(f"/api/v1/pledges/{r.json()['id']}", headers=staff.auth("handler")).json()
    assert again["publication_day"] == "2026-10-15"
    events = client.get(f"/api/v1/pledges/{r.json()['id']}/events", headers=staff.auth("handler")).json()
    assert events[-1]["event"] == "recompute"

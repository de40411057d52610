"""Department staff's pledge and breach pages: the pledge list and its filters, a pledge's page with its
evidence files (preview and download) and actions (CSRF, version check, refusals), the printable 告知书,
and the breach record page with the subject's request and the typed correction."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models.breach import PublishedBreach
from models.lifecycle import BreachState, PledgeState
from models.pledge import Pledge
from tests.conftest import Staff
from tests.test_pledges import body
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.web_support import CSRF_FIELD, csrf_of, post_form, sign_in

API = "/api/v1"
PDF = b"%PDF-1.7\n% evidence\n"


def pledge(client: TestClient, staff: Staff, **over: Any) -> dict[str, Any]:
    r = client.post(f"{API}/pledges", json=body(deadline="2026-04-30", **over), headers=staff.auth("intake"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def with_evidence(client: TestClient, staff: Staff) -> tuple[dict[str, Any], int]:
    created = pledge(client, staff)
    r = client.post(
        f"{API}/pledges/{created['id']}/evidence",
        files={"file": ("审查合格书.pdf", PDF)},
        headers=staff.auth("handler"),
    )
    assert r.status_code == 201, r.text
    return created, int(r.json()["evidence"]["id"])


def version_of(session: Session, pledge_id: int) -> int:
    session.expire_all()
    found = session.get(Pledge, pledge_id)
    assert found is not None
    return found.version


def test_the_pledge_list_shows_the_departments_pledges_by_filter(client: TestClient, staff: Staff) -> None:
    mine = pledge(client, staff, pledgor_name="甲建设有限公司")
    other = pledge(client, staff, pledgor_name="乙贸易有限公司", authority_code="D02")
    sign_in(client, staff.handler)
    page = client.get("/staff/pledges")
    assert page.status_code == 200
    assert mine["number"] in page.text
    assert other["number"] not in page.text
    assert client.get(f"/staff/pledges/{other['id']}").status_code == 404
    found = client.get("/staff/pledges", params={"q": "甲建设", "state": "registered"})
    assert mine["number"] in found.text
    assert mine["number"] not in client.get("/staff/pledges", params={"state": "fulfilled"}).text
    by_day = client.get("/staff/pledges", params={"publication_from": mine["publication_day"]})
    assert mine["number"] in by_day.text
    later = client.get("/staff/pledges", params={"deadline_from": "2026-05-01"})
    assert mine["number"] not in later.text
    bad = client.get("/staff/pledges", params={"deadline_from": "明天"})
    assert bad.status_code == 422
    assert "日期格式应为 YYYY-MM-DD" in bad.text


def test_a_search_term_too_long_to_be_a_number_or_name_is_refused_with_422_not_503(
    client: TestClient, staff: Staff
) -> None:
    # SQLite refuses LIKE patterns of 50,000 bytes, which answered 503 "database unavailable" and logged
    # an outage on every such request.
    pledge(client, staff, pledgor_name="甲建设有限公司")
    long = "甲" * 101
    api = client.get(f"{API}/pledges", params={"q": long}, headers=staff.auth("handler"))
    assert api.status_code == 422, api.text
    longest = client.get(f"{API}/pledges", params={"q": "甲" * 100}, headers=staff.auth("handler"))
    assert longest.status_code == 200, longest.text
    sign_in(client, staff.handler)
    page = client.get("/staff/pledges", params={"q": "x" * 50_001})
    assert page.status_code == 422
    assert "搜索词最多 100 个字" in page.text


def test_the_pledge_page_previews_and_downloads_its_evidence(client: TestClient, staff: Staff) -> None:
    created, evidence_id = with_evidence(client, staff)
    sign_in(client, staff.handler)
    page = client.get(f"/staff/pledges/{created['id']}")
    assert page.status_code == 200
    assert "审查合格书.pdf" in page.text
    assert "提交履约材料" in page.text
    assert f'src="/staff/pledges/{created["id"]}/evidence/{evidence_id}?inline=true"' in page.text
    shown = client.get(f"/staff/pledges/{created['id']}/evidence/{evidence_id}", params={"inline": "true"})
    assert (shown.status_code, shown.content, shown.headers["content-type"]) == (200, PDF, "application/pdf")
    assert shown.headers["content-disposition"].startswith("inline;")
    assert "frame-ancestors 'self'" in shown.headers["content-security-policy"]
    download = client.get(f"/staff/pledges/{created['id']}/evidence/{evidence_id}")
    assert download.headers["content-disposition"].startswith("attachment;")


def test_confirming_on_the_page_checks_csrf_and_version(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created, _ = with_evidence(client, staff)
    pid = created["id"]
    sign_in(client, staff.handler)
    url = f"/staff/pledges/{pid}/act/confirm"
    forged = client.post(url, data={CSRF_FIELD: "forged", "expected_version": "2"}, follow_redirects=False)
    assert forged.status_code == 403
    assert "表单校验失败" in forged.text
    stale = post_form(client, url, {"expected_version": "1"}, page=f"/staff/pledges/{pid}")
    assert stale.status_code == 409
    assert "已被他人更新" in stale.text or "版本" in stale.text
    done = post_form(
        client, url, {"expected_version": str(version_of(session, pid))}, page=f"/staff/pledges/{pid}"
    )
    assert (done.status_code, done.headers["location"]) == (303, f"/staff/pledges/{pid}?done=confirm")
    session.expire_all()
    assert session.get(Pledge, pid).state == PledgeState.FULFILLED  # type: ignore[union-attr]
    assert "已完成操作：确认履约" in client.get(done.headers["location"]).text


def test_rejecting_evidence_without_a_reason_is_refused_on_the_page(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created, _ = with_evidence(client, staff)
    pid = created["id"]
    sign_in(client, staff.handler)
    data = {"expected_version": str(version_of(session, pid))}
    refused = post_form(
        client, f"/staff/pledges/{pid}/act/reject_evidence", data, page=f"/staff/pledges/{pid}"
    )
    assert refused.status_code == 422
    assert "请填写理由" in refused.text
    assert session.get(Pledge, pid).state == PledgeState.EVIDENCE_SUBMITTED  # type: ignore[union-attr]


def test_returned_evidence_is_marked_returned_on_the_page_and_a_new_submission_waits(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created, first = with_evidence(client, staff)
    pid = created["id"]
    sign_in(client, staff.handler)
    data = {"expected_version": str(version_of(session, pid)), "reason": "合格书未盖章"}
    done = post_form(client, f"/staff/pledges/{pid}/act/reject_evidence", data, page=f"/staff/pledges/{pid}")
    assert done.status_code == 303, done.text
    page = client.get(f"/staff/pledges/{pid}").text
    assert "（已退回，待承诺人重新提交）" in page
    assert re.search(r"审查合格书\.pdf</strong> <span class=\"tag amber\">已退回</span>", page)
    resubmitted = {"file": ("盖章合格书.pdf", PDF)}
    again = client.post(f"{API}/pledges/{pid}/evidence", files=resubmitted, headers=staff.auth("handler"))
    assert again.status_code == 201, again.text
    page = client.get(f"/staff/pledges/{pid}").text
    assert "已退回，待承诺人重新提交" not in page
    assert re.search(r"盖章合格书\.pdf</strong> <span class=\"tag\">待核查</span>", page)
    assert re.search(r"审查合格书\.pdf</strong> <span class=\"tag amber\">已退回</span>", page)
    assert first != again.json()["evidence"]["id"]


def test_a_reissued_access_code_is_shown_once_on_the_pledge_page(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = pledge(client, staff)
    pid = created["id"]
    sign_in(client, staff.handler)
    page = client.get(f"/staff/pledges/{pid}")
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert key, "the re-issue form carries an idempotency key"
    data = {
        "expected_version": str(version_of(session, pid)),
        "reason": "遗失告知书",
        "idempotency_key": key[1],
    }
    shown = post_form(
        client, f"/staff/pledges/{pid}/act/reissue_access_code", data, page=f"/staff/pledges/{pid}"
    )
    assert shown.status_code == 200
    assert shown.headers["cache-control"] == "no-store"
    code = re.search(r'class="password">([A-Z0-9-]+)<', shown.text)
    assert code
    assert created["access_code"] != code[1]
    assert "新办理码已通过邮件发送" in shown.text  # how it went, read off the outbox: e-mail only here
    # The printable notice carries the terms and how to use the code, never a code itself.
    notice = client.get(f"/staff/pledges/{pid}/notice")
    assert notice.status_code == 200
    assert created["matter"] in notice.text
    assert created["obligation"] in notice.text
    assert "办理码" in notice.text
    assert code[1] not in notice.text
    assert created["access_code"] not in notice.text
    assert "2026年4月30日前" in notice.text


def test_the_breach_page_shows_the_objection_and_corrects_only_typed_fields(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    objection = {
        "access_code": access_code(session, breach),
        "reason": "已按期提交材料",
        "evidence": "快递单号 SF123",
    }
    assert client.post(f"{API}/public/breaches/{breach.number}/objection", json=objection).status_code == 201
    sign_in(client, staff.handler)
    listed = client.get("/staff/breaches")
    assert breach.number in listed.text
    assert "异议" in listed.text
    page = client.get(f"/staff/breaches/{breach.id}")
    assert "已按期提交材料" in page.text
    assert "快递单号 SF123" in page.text
    assert "2026-03-09" in page.text
    url = f"/staff/breaches/{breach.id}/act/uphold_correct"
    session.expire_all()
    version = str(session.get(PublishedBreach, breach.id).version)  # type: ignore[union-attr]
    too_long = post_form(
        client, url, {"expected_version": version, "reason": "更正", "facts": "字" * 2001},
        page=f"/staff/breaches/{breach.id}",
    )  # fmt: skip
    assert too_long.status_code == 422
    assert "内容过长" in too_long.text
    # A field the correction does not have is not read from the form: the subject's name stays.
    done = post_form(
        client, url,
        {"expected_version": version, "reason": "更正", "facts": "逾期补交（更正）", "subject_name": "别人"},
        page=f"/staff/breaches/{breach.id}",
    )  # fmt: skip
    assert done.status_code == 303, done.text
    session.expire_all()
    record = session.get(PublishedBreach, breach.id)
    assert record is not None
    assert (record.state, record.facts, record.subject_name) == (
        BreachState.PUBLISHED,
        "逾期补交（更正）",
        "示范建设有限公司",
    )
    client.cookies.clear()
    sign_in(client, staff.handler2)
    assert client.get(f"/staff/breaches/{breach.id}").status_code == 404
    assert breach.number not in client.get("/staff/breaches").text
    token = csrf_of(client, "/staff/breaches")
    hidden = client.post(
        f"/staff/breaches/{breach.id}/act/reject_objection", data={CSRF_FIELD: token, "reason": "x"}
    )
    assert hidden.status_code == 404

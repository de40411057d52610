"""Files with a rectification report, an objection and a repair request (issue 15): stored by the one file
mechanism (models/files.py), recorded in the audit event, listed and served only to the staff who may see
the case, and bad uploads refused with a message that says what is wrong."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api.main import create_app
from models.audit import CaseEvent
from models.calendar import WorkCalendar
from models.complaints import ActionBody, act
from models.errors import ValidationFailed
from models.files import CaseFile, Upload, file_path
from models.lifecycle import BreachState, Role
from models.org import Department
from models.settings import get_settings
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_complaints_api import API, dispatched_and_signed, register
from tests.test_complaints_api import act as act_api
from tests.test_publication import CODE
from tests.test_register import access_code, publish

PDF = b"%PDF-1.7\n% rectification\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


@pytest.fixture
def two_files_at_most(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("SHOUXIN_UPLOAD_MAX_FILES", "2")
    get_settings.cache_clear()
    yield 2
    get_settings.cache_clear()


def rectifying(client: TestClient, staff: Staff) -> int:
    cid = dispatched_and_signed(client, staff)
    act_api(client, staff, "competent", cid, "verify_true")
    act_api(client, staff, "competent", cid, "order_rectification", requirements="按合同约定支付剩余工程款")
    return int(cid)


def report(
    client: TestClient, staff: Staff, cid: int, files: list[tuple[str, bytes]], who: str = "handler"
) -> Any:
    return client.post(
        f"{API}/complaints/{cid}/actions/report_rectification/with-files",
        data={"evidence": "已于3月10日全额支付", "attachments": ["银行回单号 2026031001"]},
        files=[("files", f) for f in files],
        headers=staff.auth(who),
    )


def status_of(client: TestClient, staff: Staff, url: str, who: str | None) -> int:
    return client.get(url, headers=staff.auth(who) if who else {}).status_code


def events_of(session: Session, kind: str, case_id: int, event: str) -> list[CaseEvent]:
    session.expire_all()
    stmt = select(CaseEvent).where(
        CaseEvent.case_kind == kind, CaseEvent.case_id == case_id, CaseEvent.event == event
    )
    return list(session.exec(stmt.order_by(col(CaseEvent.seq))).all())


def test_a_rectification_report_carries_files_that_staff_of_the_case_can_list_and_download(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = rectifying(client, staff)
    r = report(client, staff, cid, [("付款凭证.pdf", PDF), ("../../etc/现场照片.png", PNG)])
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "rectification_reported"
    [event] = events_of(session, "complaint", cid, "report_rectification")
    assert event.data["files"] == [
        {"filename": "付款凭证.pdf", "sha256": hashlib.sha256(PDF).hexdigest(), "size": len(PDF)},
        {"filename": "现场照片.png", "sha256": hashlib.sha256(PNG).hexdigest(), "size": len(PNG)},
    ]
    assert event.data["attachments"] == ["银行回单号 2026031001"]
    for who in ("handler", "competent", "supervisor", "intake"):
        listed = client.get(f"{API}/complaints/{cid}/files", headers=staff.auth(who))
        assert listed.status_code == 200, listed.text
        assert [(f["filename"], f["kind"], f["event_seq"]) for f in listed.json()] == [
            ("付款凭证.pdf", "rectification", event.seq),
            ("现场照片.png", "rectification", event.seq),
        ]
    pdf_id = listed.json()[0]["id"]
    got = client.get(f"{API}/complaints/{cid}/files/{pdf_id}", headers=staff.auth("handler"))
    assert (got.status_code, got.content, got.headers["content-type"]) == (200, PDF, "application/pdf")
    assert got.headers["content-disposition"].startswith("attachment;")
    assert got.headers["x-content-type-options"] == "nosniff"
    # Another department's handler learns nothing; without a token nothing is served.
    assert client.get(f"{API}/complaints/{cid}/files", headers=staff.auth("handler2")).status_code == 404
    assert (
        client.get(f"{API}/complaints/{cid}/files/{pdf_id}", headers=staff.auth("handler2")).status_code
        == 404
    )
    assert client.get(f"{API}/complaints/{cid}/files/{pdf_id}").status_code == 401
    # A file id of another case is not found under this one.
    other = rectifying(client, staff)
    assert (
        client.get(f"{API}/complaints/{other}/files/{pdf_id}", headers=staff.auth("admin")).status_code == 404
    )


@pytest.mark.parametrize(
    ("files", "status", "words"),
    [
        ([("空白.pdf", b"")], 422, "“空白.pdf”为空"),
        ([("setup.pdf", b"MZ\x90\x00 not a pdf")], 422, "类型不受支持：仅接受 PDF、PNG、JPEG、OFD"),
        ([("a.pdf", PDF), ("b.pdf", PDF), ("c.pdf", PDF)], 422, "文件过多：每次最多上传 2 个文件"),
    ],
)
def test_bad_rectification_files_are_refused_and_nothing_is_reported(
    client: TestClient,
    staff: Staff,
    session: Session,
    two_files_at_most: int,
    files: list[tuple[str, bytes]],
    status: int,
    words: str,
) -> None:
    cid = rectifying(client, staff)
    r = report(client, staff, cid, files)
    assert r.status_code == status, r.text
    assert words in r.json()["message"]
    assert events_of(session, "complaint", cid, "report_rectification") == []
    assert session.exec(select(CaseFile)).all() == []
    assert not any(file_path(hashlib.sha256(c).hexdigest()).exists() for _, c in files if c)


def test_files_over_the_size_limit_together_are_refused(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = rectifying(client, staff)
    monkeypatch.setenv("SHOUXIN_UPLOAD_MAX_BYTES", "4096")
    get_settings.cache_clear()
    r = report(client, staff, cid, [("a.pdf", PDF + b"a" * 2500), ("b.pdf", PDF + b"b" * 2500)])
    assert r.status_code == 413, r.text
    assert "合计" in r.json()["message"]
    assert events_of(session, "complaint", cid, "report_rectification") == []


def test_the_report_with_files_is_refused_as_the_json_report_is(client: TestClient, staff: Staff) -> None:
    cid = dispatched_and_signed(client, staff)  # not yet ordered to rectify
    refused = report(client, staff, cid, [("a.pdf", PDF)])
    assert refused.status_code == 409, refused.text
    cid = rectifying(client, staff)
    assert report(client, staff, cid, [("a.pdf", PDF)], who="handler2").status_code == 404
    no_text = client.post(
        f"{API}/complaints/{cid}/actions/report_rectification/with-files",
        data={"evidence": "x"},
        files=[("files", ("a.pdf", PDF))],
        headers=staff.auth("handler"),
    )
    assert no_text.status_code == 422
    assert [f["field"] for f in no_text.json()["fields"]] == ["evidence"]


def test_only_the_rectification_report_takes_files(
    client: TestClient, staff: Staff, session: Session, today: dt.date, calendar: WorkCalendar
) -> None:
    cid = dispatched_and_signed(client, staff)
    d00 = session.exec(select(Department).where(Department.code == "D00")).one()
    competent = Actor(name="发改经办人", role=Role.HANDLER, department_id=d00.id)
    with pytest.raises(ValidationFailed, match="不接受上传文件"):
        act(session=session, complaint_id=cid, action="verify_true", body=ActionBody(), actor=competent,
            today=today, calendar=calendar, files=[Upload("a.pdf", PDF)])  # fmt: skip


def test_an_objection_with_files_reaches_only_the_deciding_department(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    url = f"{API}/public/breaches/{breach.number}/objection/with-files"
    form = {
        "access_code": access_code(session, breach),
        "reason": "合格书已于期限内补交",
        "evidence": "见附件",
    }
    wrong = client.post(
        url, data={**form, "access_code": "AAAA-BBBB-CCCC"}, files=[("files", ("a.pdf", PDF))]
    )
    assert wrong.status_code == 403
    assert session.exec(select(CaseFile)).all() == []
    r = client.post(url, data=form, files=[("files", ("合格书.pdf", PDF)), ("files", ("回执.png", PNG))])
    assert r.status_code == 201, r.text
    assert r.json()["state"] == BreachState.UNDER_OBJECTION
    [event] = events_of(session, "breach", breach.id or 0, "object")
    assert [f["filename"] for f in event.data["files"]] == ["合格书.pdf", "回执.png"]
    [view] = client.get(f"{API}/breaches", headers=staff.auth("handler")).json()
    assert [(f["filename"], f["kind"]) for f in view["request_files"]] == [
        ("合格书.pdf", "objection"),
        ("回执.png", "objection"),
    ]
    fid = view["request_files"][0]["id"]
    got = client.get(f"{API}/breaches/{breach.id}/files/{fid}", headers=staff.auth("handler"))
    assert (got.status_code, got.content) == (200, PDF)
    assert (
        client.get(f"{API}/breaches/{breach.id}/files/{fid}", headers=staff.auth("handler2")).status_code
        == 404
    )
    assert (
        client.get(f"{API}/breaches/{breach.id}/files/{fid}", headers=staff.auth("intake")).status_code == 403
    )
    assert client.get(f"{API}/breaches/{breach.id}/files/{fid}").status_code == 401
    # The public record says nothing of the files.
    public = client.get(f"{API}/public/breaches/{breach.number}").json()
    assert "合格书.pdf" not in str(public)


def test_a_repair_request_with_files_and_a_bad_file_refused(
    engine: Engine, session: Session, staff: Staff, clock: Any
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    form = {
        "access_code": access_code(session, breach),
        "statement": "已补交合格书",
        "repair_pledge": "今后按期履约",
    }
    url = f"{API}/public/breaches/{breach.number}/repair/with-files"
    later = type(clock)(tz=clock.tz, pinned_today=dt.date(2026, 6, 1))
    with TestClient(create_app(engine=engine, clock=later, check_schema=False)) as c:
        bad = c.post(url, data=form, files=[("files", ("说明.docx", b"PK\x05\x06 not ofd"))])
        assert bad.status_code == 422
        assert "类型不受支持" in bad.json()["message"]
        session.expire_all()
        assert events_of(session, "breach", breach.id or 0, "request_repair") == []
        r = c.post(url, data=form, files=[("files", ("补交回执.pdf", PDF))])
        assert r.status_code == 201, r.text
        [view] = c.get(f"{API}/breaches", headers=staff.auth("handler")).json()
        assert view["request_kind"] == "repair"
        assert [(f["filename"], f["kind"]) for f in view["request_files"]] == [("补交回执.pdf", "repair")]


def test_the_complainants_tracking_shows_no_rectification_file(client: TestClient, staff: Staff) -> None:
    created = register(client, staff)
    cid = int(created["id"])
    act_api(client, staff, "intake", cid, "accept")
    act_api(client, staff, "intake", cid, "dispatch", lead_department_code="D01")
    act_api(client, staff, "handler", cid, "sign_for")
    act_api(client, staff, "competent", cid, "verify_true")
    act_api(client, staff, "competent", cid, "order_rectification", requirements="按合同约定支付剩余工程款")
    assert report(client, staff, cid, [("付款凭证.pdf", PDF)]).status_code == 200
    tracked = client.post(
        f"{API}/public/complaints/track",
        json={"number": created["number"], "password": created["tracking_password"]},
    )
    assert tracked.status_code == 200, tracked.text
    assert tracked.json()["state_label"] == "整改已报告（待审核）"
    assert "付款凭证.pdf" not in tracked.text
    assert hashlib.sha256(PDF).hexdigest() not in tracked.text

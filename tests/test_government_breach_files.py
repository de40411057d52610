"""Files with a government department's objection or repair request (issue 15): the credit office files
them with the department's written application exactly as the subject of a pledge record hands in its
own (the same checks of models/files.py, stored in case_file), and only the credit office's supervisors,
who decide (谁认定、谁修复), list and download them, on the API and on /staff/breaches/{id}."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.files import CaseFile, file_path
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_case_files import PDF, PNG
from tests.test_complaints_api import API, act, set_today
from tests.test_government_credit import confirmed
from tests.web_support import sign_in

OBJECTION = {"reason": "已于2月底付清尾款，附银行回单", "document_reference": "住建函〔2026〕12号"}
REPAIR = {"statement": "已全额支付并完成整改", "repair_pledge": "今后按合同约定按期支付"}


@pytest.fixture
def two_files_at_most(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SHOUXIN_UPLOAD_MAX_FILES", "2")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def record_of(session: Session) -> PublishedBreach:
    session.expire_all()
    [record] = session.exec(select(PublishedBreach)).all()
    return record


def file_with(
    client: TestClient, staff: Staff, number: str, kind: str, form: dict[str, str], files: list[Any], who: str
) -> Any:
    return client.post(
        f"{API}/government-breaches/{number}/{kind}/with-files",
        data=form,
        files=[("files", f) for f in files],
        headers=staff.auth(who),
    )


def request_events(session: Session, breach_id: int) -> list[CaseEvent]:
    session.expire_all()
    stmt = select(CaseEvent).where(
        CaseEvent.case_kind == "breach",
        CaseEvent.case_id == breach_id,
        CaseEvent.event.in_(("object", "request_repair")),  # type: ignore[attr-defined]
    )
    return list(session.exec(stmt).all())


def test_a_department_objection_filed_with_files_is_read_only_by_the_credit_office(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    record = record_of(session)
    assert record.id is not None
    files = [("住建函〔2026〕12号.pdf", PDF), ("银行回单.png", PNG)]
    r = file_with(client, staff, record.number, "objection", OBJECTION, files, "supervisor")
    assert r.status_code == 200, r.text
    assert r.json()["state_label"] == "异议处理中"
    [event] = request_events(session, record.id)
    assert event.data["document_reference"] == "住建函〔2026〕12号"
    assert [f["filename"] for f in event.data["files"]] == ["住建函〔2026〕12号.pdf", "银行回单.png"]
    rows = session.exec(select(CaseFile)).all()
    assert [(f.case_kind, f.case_id, f.kind, f.event_seq) for f in rows] == [
        ("breach", record.id, "objection", event.seq)
    ] * 2
    assert rows[0].uploaded_by == event.actor_name
    assert file_path(rows[0].sha256).read_bytes() == PDF
    # The credit office, which decides (谁认定、谁修复), reads them, in the list and one by one.
    [view] = client.get(f"{API}/breaches", headers=staff.auth("supervisor")).json()
    assert view["request_kind"] == "objection"
    assert [(f["filename"], f["kind"]) for f in view["request_files"]] == [
        ("住建函〔2026〕12号.pdf", "objection"),
        ("银行回单.png", "objection"),
    ]
    url = f"{API}/breaches/{record.id}/files/{view['request_files'][1]['id']}"
    got = client.get(url, headers=staff.auth("supervisor"))
    assert (got.status_code, got.content, got.headers["content-type"]) == (200, PNG, "image/png")
    # No department decides it or reads the files, the subject nor its 主管部门; nor the public.
    assert client.get(url, headers=staff.auth("handler")).status_code == 404
    assert client.get(url, headers=staff.auth("competent")).status_code == 404
    assert client.get(url).status_code == 401
    assert "银行回单.png" not in client.get(f"{API}/public/breaches/{record.number}").text
    assert "银行回单.png" not in client.get(f"{API}/public/government-breaches").text
    # The record page of the deciding credit office lists them with their download links.
    sign_in(client, staff.supervisor)
    page = client.get(f"/staff/breaches/{record.id}")
    assert page.status_code == 200
    assert "银行回单.png" in page.text
    assert f'href="/staff/breaches/{record.id}/files/{rows[1].id}"' in page.text
    assert client.get(f"/staff/breaches/{record.id}/files/{rows[1].id}").content == PNG


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        ([("说明.docx", b"\xd0\xcf\x11\xe0 old word")], 422, "类型不受支持"),
        ([("空白.pdf", b"")], 422, "为空"),
        ([("a.pdf", PDF), ("b.pdf", PDF + b"b"), ("c.pdf", PDF + b"c")], 422, "文件过多"),
    ],
)
def test_bad_files_refuse_the_department_objection_and_nothing_is_filed_or_stored(
    client: TestClient,
    staff: Staff,
    session: Session,
    two_files_at_most: None,
    files: list[tuple[str, bytes]],
    status: int,
    message: str,
) -> None:
    confirmed(client, staff)
    record = record_of(session)
    assert record.id is not None
    r = file_with(client, staff, record.number, "objection", OBJECTION, files, "supervisor")
    assert r.status_code == status, r.text
    assert message in r.json()["message"]
    assert request_events(session, record.id) == []
    assert session.exec(select(CaseFile)).all() == []
    assert record_of(session).state == "published"
    assert not any(p.is_file() for p in get_settings().upload_dir.rglob("*"))


def test_only_the_credit_office_files_with_files_and_the_form_is_checked_as_the_json_filing(
    client: TestClient, staff: Staff, session: Session
) -> None:
    confirmed(client, staff)
    record = record_of(session)
    for who in ("handler", "competent", "intake"):
        r = file_with(client, staff, record.number, "objection", OBJECTION, [("a.pdf", PDF)], who)
        assert r.status_code == 403, (who, r.text)
    short = file_with(
        client, staff, record.number, "objection", {"reason": "无"}, [("a.pdf", PDF)], "supervisor"
    )
    assert short.status_code == 422
    assert "reason" in short.text
    none = file_with(client, staff, "GOV-NOPE", "objection", OBJECTION, [("a.pdf", PDF)], "supervisor")
    assert none.status_code == 404
    assert session.exec(select(CaseFile)).all() == []


def test_a_department_repair_request_carries_its_files_after_rectification(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = confirmed(client, staff)  # 一般: repair from 3 months on
    record = record_of(session)
    assert record.id is not None
    act(
        client, staff, "handler", cid, "submit_explanation",
        written_explanation="资金未到位", rectification="已分期支付完毕",
    )  # fmt: skip
    set_today(client, dt.date(2026, 6, 1))
    early = file_with(client, staff, record.number, "repair", REPAIR, [("付款凭证.pdf", PDF)], "supervisor")
    assert early.status_code == 422
    assert early.json()["repair_earliest"] == "2026-06-02"
    assert session.exec(select(CaseFile)).all() == []
    set_today(client, dt.date(2026, 6, 2))
    r = file_with(client, staff, record.number, "repair", REPAIR, [("付款凭证.pdf", PDF)], "supervisor")
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "repair_requested"
    [view] = client.get(f"{API}/breaches", headers=staff.auth("supervisor")).json()
    assert (view["request_kind"], view["repair_pledge"]) == ("repair", REPAIR["repair_pledge"])
    assert [(f["filename"], f["kind"]) for f in view["request_files"]] == [("付款凭证.pdf", "repair")]

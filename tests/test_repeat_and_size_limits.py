"""Requests a client repeats or oversizes: a re-issued access code is issued once however often the
request is repeated, and an oversized body is refused while it arrives, not after it was read whole."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.body_limit import FORM_ALLOWANCE, BodyLimit
from models.audit import CaseEvent
from models.errors import TooLarge
from models.outbox import Notification
from models.pledge import Pledge
from models.pledges.access import verify
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_pledges import body

API = "/api/v1"


def _pledge(client: TestClient, staff: Staff) -> dict[str, Any]:
    r = client.post(f"{API}/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake"))
    assert r.status_code == 201, r.text
    return dict(r.json())


def _reissues(session: Session, pid: int) -> tuple[int, int]:
    events = session.exec(
        select(CaseEvent.id).where(
            CaseEvent.case_kind == "pledge",
            CaseEvent.case_id == pid,
            CaseEvent.event == "reissue_access_code",
        )
    ).all()
    mails = session.exec(
        select(Notification.id).where(
            Notification.template == "pledge_access_code", Notification.case_id == pid
        )
    ).all()
    return len(events), len(mails)


# ------------------------------------------------------------------------------ re-issue, repeated


def test_a_repeated_reissue_with_the_same_key_answers_the_same_code_once_issued_and_mailed(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pid = _pledge(client, staff)["id"]
    url = f"{API}/pledges/{pid}/access-code"
    key = {**staff.auth("handler"), "Idempotency-Key": "7f0c4f5e-double-click"}
    answers = [client.post(url, json={"reason": "遗失"}, headers=key) for _ in range(4)]
    assert [a.status_code for a in answers] == [200] * 4
    codes = {a.json()["access_code"] for a in answers}
    assert len(codes) == 1
    assert {a.json()["version"] for a in answers} == {answers[0].json()["version"]}
    assert _reissues(session, pid) == (1, 1)
    stored = session.exec(select(Pledge.access_code_digest).where(Pledge.id == pid)).one()
    assert verify(codes.pop(), stored)
    # The generic action route shares the key's meaning.
    again = client.post(f"{API}/pledges/{pid}/actions/reissue_access_code", json={}, headers=key)
    assert again.json()["access_code"] == answers[0].json()["access_code"]
    assert _reissues(session, pid) == (1, 1)


def test_a_new_key_issues_a_new_code_and_the_old_key_then_answers_conflict(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pid = _pledge(client, staff)["id"]
    url = f"{API}/pledges/{pid}/access-code"
    first = client.post(url, json={}, headers={**staff.auth("handler"), "Idempotency-Key": "key-one-0001"})
    second = client.post(url, json={}, headers={**staff.auth("handler"), "Idempotency-Key": "key-two-0002"})
    assert first.json()["access_code"] != second.json()["access_code"]
    assert _reissues(session, pid) == (2, 2)
    # The first key's code no longer works: repeating it must not hand out a dead code as if valid.
    late = client.post(url, json={}, headers={**staff.auth("handler"), "Idempotency-Key": "key-one-0001"})
    assert late.status_code == 409
    assert _reissues(session, pid) == (2, 2)
    # Another account's same key is its own re-issue, not a repeat of someone else's.
    other = client.post(url, json={}, headers={**staff.auth("supervisor"), "Idempotency-Key": "key-two-0002"})
    assert other.status_code == 200
    assert other.json()["access_code"] != second.json()["access_code"]


def test_a_repeated_reissue_of_the_same_version_is_refused_without_a_new_code(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = _pledge(client, staff)
    url = f"{API}/pledges/{created['id']}/access-code"
    version = {"expected_version": created["version"]}
    assert client.post(url, json=version, headers=staff.auth("handler")).status_code == 200
    assert client.post(url, json=version, headers=staff.auth("handler")).status_code == 409
    assert _reissues(session, created["id"]) == (1, 1)


def test_a_bad_idempotency_key_is_refused(client: TestClient, staff: Staff) -> None:
    pid = _pledge(client, staff)["id"]
    r = client.post(
        f"{API}/pledges/{pid}/access-code", json={}, headers={**staff.auth("handler"), "Idempotency-Key": "x"}
    )
    assert r.status_code == 422


def test_the_reissue_form_sends_a_key_so_a_double_submit_issues_one_code(
    client: TestClient, session: Session, staff: Staff
) -> None:
    from tests.web_support import CSRF_FIELD, csrf_of, sign_in

    created = _pledge(client, staff)
    sign_in(client, staff.handler)
    page = client.get("/staff/pledges/new")
    form = {
        "number": created["number"],
        "reason": "遗失",
        "idempotency_key": _hidden(page.text, "idempotency_key"),
        CSRF_FIELD: csrf_of(client, "/staff/pledges/new"),
    }
    answers = [client.post("/staff/pledges/access-code", data=form) for _ in range(2)]
    assert [a.status_code for a in answers] == [200, 200]
    assert _reissues(session, created["id"]) == (1, 1)


def _hidden(html: str, name: str) -> str:
    import re

    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, f"no hidden {name}"
    return match.group(1)


# ------------------------------------------------------------------------------ oversized bodies


@pytest.fixture
def small_uploads(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("SHOUXIN_UPLOAD_MAX_BYTES", "2048")
    get_settings.cache_clear()
    yield 2048
    get_settings.cache_clear()


def test_an_oversized_declared_body_is_refused_before_it_is_read(
    client: TestClient, small_uploads: int
) -> None:
    # Content-Length is checked first: the anonymous upload is answered 413 at once.
    r = client.post(
        f"{API}/public/pledges/CN-2026-000001/evidence",
        data={"access_code": "ABCD-EFGH-JKMN"},
        files={"file": ("big.pdf", b"%PDF-" + b"0" * (small_uploads + FORM_ALLOWANCE))},
    )
    assert r.status_code == 413
    assert "文件过大" in r.json()["message"]


def test_a_body_without_a_length_is_read_only_up_to_the_cap(small_uploads: int) -> None:
    # Chunked (no Content-Length): the middleware counts and stops. The app below reads all it is given;
    # the client would send 100 chunks of 8 KiB, and only those up to the cap are ever taken.
    taken: list[int] = []
    chunk = b"x" * 8192
    cap = small_uploads + FORM_ALLOWANCE

    async def app(scope: Any, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            taken.append(len(message.get("body", b"")))
            if not message.get("more_body"):
                break

    async def client_chunks() -> AsyncIterator[dict[str, Any]]:
        for i in range(100):
            yield {"type": "http.request", "body": chunk, "more_body": i < 99}

    async def run() -> list[dict[str, Any]]:
        source = client_chunks()
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return await anext(source)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": f"{API}/public/pledges/X/evidence", "headers": []}
        with pytest.raises(TooLarge, match="文件过大"):
            await BodyLimit(app)(scope, receive, send)
        return sent

    asyncio.run(run())
    assert sum(taken) <= cap
    assert len(taken) == cap // len(chunk)  # the chunk that crossed the cap was never handed on


def test_a_chunked_oversized_upload_gets_the_413_answer(client: TestClient, small_uploads: int) -> None:
    big = b"%PDF-" + b"0" * (small_uploads + FORM_ALLOWANCE)
    boundary = "b0undary"
    payload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="access_code"\r\n\r\nABCD-EFGH-JKMN\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + big
        + f"\r\n--{boundary}--\r\n".encode()
    )

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(payload), 4096):
            yield payload[i : i + 4096]

    r = client.post(
        f"{API}/public/pledges/CN-2026-000001/evidence",
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413, r.text
    assert json.loads(r.text)["error"] == "TooLarge"


def test_a_file_just_over_its_limit_is_refused_with_the_same_message(
    client: TestClient, staff: Staff, small_uploads: int
) -> None:
    pid = _pledge(client, staff)["id"]
    r = client.post(
        f"{API}/pledges/{pid}/evidence",
        files={"file": ("a.pdf", b"%PDF-" + b"0" * small_uploads)},
        headers=staff.auth("handler"),
    )
    assert r.status_code == 413
    assert "文件过大" in r.json()["message"]
    assert client.get(f"{API}/pledges/{pid}", headers=staff.auth("handler")).json()["state"] == "registered"


# ------------------------------------------------------------------------------ bulk import caps


def _import(client: TestClient, staff: Staff, name: str, content: bytes) -> Any:
    return client.post(
        f"{API}/pledges/import", files={"file": (name, content)}, headers=staff.auth("supervisor")
    )


def _stored_imports(session: Session) -> int:
    from models.pledges.import_jobs import PledgeImport

    return len(session.exec(select(PledgeImport.id)).all())


@pytest.fixture
def two_rows(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("SHOUXIN_IMPORT_MAX_ROWS", "2")
    get_settings.cache_clear()
    yield 2
    get_settings.cache_clear()


def test_an_import_with_more_rows_than_the_cap_is_refused_before_it_is_stored(
    client: TestClient, staff: Staff, session: Session, two_rows: int
) -> None:
    from tests.test_pledges import CSV

    lines = CSV.splitlines(keepends=True)
    small = "".join(lines[:3])  # the header and two rows
    extra = lines[2].replace("乙公司", "丁公司")
    r = _import(client, staff, "p.csv", (small + extra).encode())
    assert r.status_code == 422, r.text
    assert "行数过多" in r.json()["message"]
    assert r.json()["max_rows"] == two_rows
    assert _stored_imports(session) == 0
    # Within the cap, even when quoted line breaks make more lines than rows.
    quoted = small.replace("建筑法\n", '"建筑法\n第八条"\n', 1)
    assert quoted.count("\n") > two_rows + 1
    assert _import(client, staff, "p.csv", quoted.encode()).status_code == 202


def test_a_spreadsheet_with_more_rows_than_the_cap_is_refused(
    client: TestClient, staff: Staff, session: Session, two_rows: int
) -> None:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["pledgor_kind", "pledgor_name", "credit_code", "matter", "obligation", "deadline"])
    for i in range(two_rows + 1):
        sheet.append(["individual", f"个人{i}", "", "施工许可", "合格书", "2026-06-01"])
    buf = io.BytesIO()
    book.save(buf)
    r = _import(client, staff, "p.xlsx", buf.getvalue())
    assert r.status_code == 422, r.text
    assert _stored_imports(session) == 0


def test_an_import_over_its_byte_cap_is_refused_413_and_other_uploads_keep_theirs(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_pledges import CSV

    monkeypatch.setenv("SHOUXIN_IMPORT_MAX_BYTES", "4096")
    monkeypatch.setenv("SHOUXIN_UPLOAD_MAX_BYTES", "1024")
    get_settings.cache_clear()
    # The import has its own, larger cap: a 2 KB file is over the upload limit but is accepted.
    padded = CSV + "\n" * (2048 - len(CSV.encode()))
    assert _import(client, staff, "p.csv", padded.encode()).status_code == 202
    r = _import(client, staff, "p.csv", (CSV * 40).encode())
    assert r.status_code == 413
    assert "文件过大" in r.json()["message"]
    assert _stored_imports(session) == 1


# ------------------------------------------------------------------------------ complaint attachments


def test_a_complaints_attachments_are_capped_in_number_and_text_per_case(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.complaint import Complaint
    from tests.test_complaints_api import act, dispatched_and_signed, register

    # 20 attachments of 500 KB of text were accepted on one complaint: now their text is capped per case.
    r = client.post(
        f"{API}/complaints",
        json={**_complaint_body(), "attachments": ["合同" * 250_000] * 2},
        headers=staff.auth("intake"),
    )
    assert r.status_code == 413, r.text
    assert r.json()["field"] == "attachments"
    assert session.exec(select(Complaint.id)).all() == []
    assert register(client, staff, attachments=["contract.pdf"] * 3)["attachments"] == ["contract.pdf"] * 3

    # Reports add to the case: the count covers everything the case holds, not one body at a time.
    monkeypatch.setenv("SHOUXIN_COMPLAINT_MAX_ATTACHMENTS", "3")
    get_settings.cache_clear()
    cid = dispatched_and_signed(client, staff)  # registered with one attachment
    act(client, staff, "competent", cid, "verify_true")
    act(client, staff, "competent", cid, "order_rectification", requirements="十日内付清")
    refused = act(
        client,
        staff,
        "handler",
        cid,
        "report_rectification",
        status=422,
        evidence="已支付",
        attachments=["a", "b", "c"],
    )
    assert "附件过多" in refused["message"]
    accepted = act(
        client, staff, "handler", cid, "report_rectification", evidence="已支付", attachments=["a", "b"]
    )
    assert len(accepted["attachments"]) == 3
    get_settings.cache_clear()


def _complaint_body() -> dict[str, Any]:
    from tests.test_complaints_api import BODY

    return dict(BODY)


def test_a_json_body_over_the_limit_is_named_as_the_request_not_a_file(
    client: TestClient, staff: Staff, small_uploads: int
) -> None:
    # A 12345 work order carries no file: "compress or split the upload" would send its engineer looking for
    # one. The same cap, named for what it caps.
    r = client.post(
        f"{API}/complaints",
        content=b'{"summary": "' + b"x" * (small_uploads + 70_000) + b'"}',
        headers={**staff.auth("intake"), "Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json()["message"].startswith("请求体过大")

"""Bulk import through the API: the upload is checked, stored and answered 202 at once; the import_pledges
flow's service imports it once, however often it runs; progress and the report are read back by the
uploader's department only."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

import models.pledges.importing as service
from models.clock import utcnow
from models.lifecycle import PledgeState
from models.pledge import Pledge
from models.pledges.import_jobs import (
    STALE_AFTER,
    ImportStatus,
    PledgeImport,
    claim_import,
    importable_ids,
    run_import,
)
from tests.conftest import Staff
from tests.test_pledges import CODE, CSV

API = "/api/v1"


def upload(client: TestClient, headers: dict[str, str], name: str, content: bytes, **params: Any) -> Any:
    return client.post(
        f"{API}/pledges/import", files={"file": (name, content)}, headers=headers, params=params
    )


def imported(client: TestClient, headers: dict[str, str], name: str, content: bytes) -> dict[str, Any]:
    """Upload, let the flow's service import it, and read the finished import back."""
    r = upload(client, headers, name, content)
    assert r.status_code == 202, r.text
    run_import(engine=client.app.state.engine, import_id=r.json()["id"])  # type: ignore[attr-defined]
    done = client.get(r.headers["Location"], headers=headers)
    assert done.status_code == 200, done.text
    return done.json()  # type: ignore[no-any-return]


def test_an_upload_is_answered_202_and_imported_by_the_flow_service(
    client: TestClient, staff: Staff, session: Session
) -> None:
    who = staff.auth("supervisor")
    r = upload(client, who, "承诺.csv", CSV.encode())
    assert r.status_code == 202, r.text
    queued = r.json()
    assert queued["status"] == "queued"
    assert r.headers["Location"].endswith(f"{API}/pledges/imports/{queued['id']}")
    assert session.exec(select(Pledge)).all() == []  # nothing imported inside the request
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    assert run_import(engine=engine, import_id=queued["id"], flow_run_id="run-7") == ImportStatus.DONE
    report = client.get(r.headers["Location"], headers=who).json()
    assert report["status"] == "done"
    assert (report["total"], report["imported"], report["failed"], report["already_imported"]) == (4, 2, 2, 0)
    where = {(e["row"], e["column"]) for e in report["errors"]}
    assert (3, "统一社会信用代码") in where
    assert {(5, "电子邮箱"), (5, "承诺期限"), (5, "受理部门代码")} <= where
    assert [o["pledgor_name"] for o in report["offline_codes"]] == ["张三"]
    pledges = session.exec(select(Pledge)).all()
    assert sorted(p.number for p in pledges) == sorted(report["numbers"])
    assert {p.deadline for p in pledges} == {dt.date(2026, 4, 30), dt.date(2026, 5, 8)}
    assert all(p.state == PledgeState.REGISTERED and p.publication_day for p in pledges)
    listed = client.get(f"{API}/pledges/imports", headers=who).json()
    assert [(i["id"], i["status"], i["imported"]) for i in listed] == [(queued["id"], "done", 2)]
    stored = session.get(PledgeImport, queued["id"])
    assert stored is not None
    assert (stored.content, stored.flow_run_id) == (b"", "run-7")  # the file is not kept once imported


def test_a_second_run_imports_nothing_twice(client: TestClient, staff: Staff, session: Session) -> None:
    who = staff.auth("supervisor")
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    first = imported(client, who, "承诺.csv", CSV.encode())
    assert first["imported"] == 2
    # The same import again: nothing to claim, nothing imported.
    assert run_import(engine=engine, import_id=first["id"]) is None
    with Session(engine) as other:
        assert importable_ids(session=other, now=utcnow()) == []
    # The same file uploaded again is counted as already imported.
    again = imported(client, who, "承诺.csv", CSV.encode())
    assert (again["imported"], again["already_imported"]) == (0, 2)
    assert len(session.exec(select(Pledge)).all()) == 2


def test_of_two_runs_claiming_an_import_only_one_gets_it(client: TestClient, staff: Staff) -> None:
    r = upload(client, staff.auth("supervisor"), "承诺.csv", CSV.encode())
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    now = utcnow()
    with Session(engine) as one, Session(engine) as two:
        assert claim_import(session=one, import_id=r.json()["id"], now=now, flow_run_id="a") is not None
        one.commit()
        assert claim_import(session=two, import_id=r.json()["id"], now=now, flow_run_id="b") is None
    assert run_import(engine=engine, import_id=r.json()["id"]) is None


def test_an_import_left_by_a_run_that_died_is_taken_over_after_the_last_chunk(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    who = staff.auth("supervisor")
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    monkeypatch.setattr(service, "IMPORT_CHUNK", 2)
    import_id = upload(client, who, "承诺.csv", CSV.encode()).json()["id"]
    calls = 0

    def dies_after_the_first_chunk(**kwargs: Any) -> service.ImportReport:
        save = kwargs.pop("after_chunk")

        def once(report: service.ImportReport) -> None:
            nonlocal calls
            calls += 1
            save(report)
            if calls == 1:
                raise SystemExit("the worker process was killed")

        return service.import_pledges(**kwargs, after_chunk=once)

    monkeypatch.setattr("models.pledges.import_jobs.import_pledges", dies_after_the_first_chunk)
    with pytest.raises(SystemExit):
        run_import(engine=engine, import_id=import_id)
    monkeypatch.undo()
    monkeypatch.setattr(service, "IMPORT_CHUNK", 2)
    half = client.get(f"{API}/pledges/imports/{import_id}", headers=who).json()
    assert (half["status"], half["total"], half["imported"]) == ("running", 2, 1)
    assert run_import(engine=engine, import_id=import_id) is None  # its claim is still fresh
    stale = session.get(PledgeImport, import_id)
    assert stale is not None
    assert stale.heartbeat_at is not None
    stale.heartbeat_at -= STALE_AFTER + dt.timedelta(seconds=1)
    session.add(stale)
    session.commit()
    assert run_import(engine=engine, import_id=import_id) == ImportStatus.DONE
    done = client.get(f"{API}/pledges/imports/{import_id}", headers=who).json()
    assert (done["total"], done["imported"], done["failed"]) == (4, 2, 2)
    assert len(session.exec(select(Pledge)).all()) == 2


def test_another_departments_import_is_not_found(client: TestClient, staff: Staff) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["pledgor_kind", "pledgor_name", "credit_code", "matter", "obligation", "deadline"])
    sheet.append(["enterprise", "丙公司", CODE, "施工许可", "合格书", dt.datetime(2026, 6, 1)])
    buf = io.BytesIO()
    book.save(buf)
    report = imported(client, staff.auth("handler"), "p.xlsx", buf.getvalue())
    assert report["imported"] == 1  # the handler's own department is the default authority
    other = client.get(f"{API}/pledges/imports/{report['id']}", headers=staff.auth("handler2"))
    assert other.status_code == 404
    assert client.get(f"{API}/pledges/imports", headers=staff.auth("handler2")).json() == []


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("p.csv", "承诺人名称,承诺期限\n甲公司,2026-05-06\n".encode("gbk"), "UTF-8"),
        ("p.pdf", b"%PDF-1.4", "仅支持 .csv 或 .xlsx"),
        ("p.csv", "名称,日期\n甲公司,2026-05-06\n".encode(), "缺少表头"),
        ("p.xlsx", b"PK\x03\x04 not really a workbook", "无法读取 Excel"),
        ("p.csv", b"", "导入文件是空的"),
        ("p.csv", "\ufeff".encode(), "导入文件是空的"),
    ],
)
def test_a_file_the_import_cannot_read_is_refused_at_upload(
    client: TestClient, staff: Staff, session: Session, name: str, content: bytes, says: str
) -> None:
    r = upload(client, staff.auth("supervisor"), name, content)
    assert r.status_code == 422, r.text
    assert says in r.json()["message"]
    assert session.exec(select(PledgeImport)).all() == []


def test_a_row_the_csv_reader_cannot_read_fails_the_import_with_its_line(
    client: TestClient, staff: Staff, session: Session
) -> None:
    huge = "x" * 200_000  # over the csv module's cell limit (131,072 characters)
    content = CSV.encode() + f"企业,{huge},{CODE},,事项,材料,2026-06-01,D01\n".encode()
    r = upload(client, staff.auth("supervisor"), "承诺.csv", content)
    assert r.status_code == 202, r.text  # the upload check reads the header and the first row only
    engine: Engine = client.app.state.engine  # type: ignore[attr-defined]
    assert run_import(engine=engine, import_id=r.json()["id"]) == ImportStatus.FAILED
    job = session.get(PledgeImport, r.json()["id"])
    assert job is not None
    lines = CSV.count("\n") + 1
    assert job.error is not None
    assert f"第 {lines} 行 CSV 格式错误" in job.error, job.error
    assert "内部错误" not in job.error


def test_an_oversized_upload_is_refused(
    client: TestClient, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    from models.settings import get_settings

    monkeypatch.setenv("SHOUXIN_IMPORT_MAX_BYTES", "1024")
    get_settings.cache_clear()
    r = upload(client, staff.auth("supervisor"), "p.csv", CSV.encode() * 8)
    assert r.status_code == 413, r.text
    assert "文件过大" in r.json()["message"]


def test_imported_pledges_get_access_codes_by_mail_or_on_paper(
    client: TestClient, staff: Staff, session: Session
) -> None:
    from models.outbox import Notification
    from models.pledges.access import verify

    report = imported(client, staff.auth("supervisor"), "承诺.csv", CSV.encode())
    pledges = {p.number: p for p in session.exec(select(Pledge)).all()}
    mails = {n.case_number: n for n in session.exec(select(Notification)).all()}
    assert set(mails) == set(pledges)
    # 张三 has no e-mail address: the authority hands the notice over, so the report lists the code
    # (and the undeliverable mail keeps no copy of it).
    [offline] = report["offline_codes"]
    assert offline["pledgor_name"] == "张三"
    for number, pledge in pledges.items():
        code = offline["access_code"] if number == offline["number"] else mails[number].context["access_code"]
        assert verify(code, pledge.access_code_digest)
    assert "access_code" not in mails[offline["number"]].context
    assert all(other.access_code_digest != pledges[offline["number"]].access_code_digest
               for n, other in pledges.items() if n != offline["number"])  # fmt: skip

"""Uploads small on the wire but huge once read: an XLSX whose zipped XML unpacks to far more than the
upload limit (a zip bomb), a CSV of millions of empty columns, and a form of more parts than Starlette
parses. Each is refused before it is read, with a Chinese message in the app's own error format."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from typing import Any

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.pledges.import_jobs import PledgeImport
from models.pledges.import_rows import (
    MAX_COLUMNS,
    MAX_LINE_COMMAS,
    XLSX_MAX_RATIO,
    XLSX_UNPACKED_FACTOR,
    check_xlsx_unpacked,
)
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_pledges import CSV
from tests.web_support import csrf_of, sign_in
from web.core import CSRF_FIELD

API = "/api/v1"
PAGE = "/staff/pledges/import"
PDF = b"%PDF-1.7\n% x\n"

_NS = "http://schemas.openxmlformats.org/"
_PARTS = {
    "[Content_Types].xml": (
        f'<Types xmlns="{_NS}package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        f'<Relationships xmlns="{_NS}package/2006/relationships"><Relationship Id="rId1" '
        f'Type="{_NS}officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        f'<workbook xmlns="{_NS}spreadsheetml/2006/main" xmlns:r="{_NS}officeDocument/2006/relationships">'
        '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        f'<Relationships xmlns="{_NS}package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{_NS}officeDocument/2006/relationships/worksheet" '
        'Target="worksheets/sheet1.xml"/>'
        f'<Relationship Id="rId2" Type="{_NS}officeDocument/2006/relationships/sharedStrings" '
        'Target="sharedStrings.xml"/></Relationships>'
    ),
    "xl/worksheets/sheet1.xml": (
        f'<worksheet xmlns="{_NS}spreadsheetml/2006/main"><sheetData><row r="1">'
        '<c r="A1" t="inlineStr"><is><t>pledgor_name</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>deadline</t></is></c></row></sheetData></worksheet>'
    ),
}


def _xlsx(shared_strings: int) -> bytes:
    """A workbook whose shared strings are ``shared_strings`` copies of one tiny string: bytes on the wire
    a few hundred times smaller than the XML openpyxl would parse."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in _PARTS.items():
            archive.writestr(name, text)
        sst = f'<sst xmlns="{_NS}spreadsheetml/2006/main">' + "<si><t>x</t></si>" * shared_strings + "</sst>"
        archive.writestr("xl/sharedStrings.xml", sst)
    return out.getvalue()


@pytest.fixture
def openpyxl_never_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    """Opening is what costs (the shared strings are parsed whole): the refusal must come before it."""

    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("openpyxl opened a file the zip check should have refused")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)


@pytest.fixture
def small_import_cap(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("SHOUXIN_IMPORT_MAX_BYTES", "16384")
    get_settings.cache_clear()
    yield 16384
    get_settings.cache_clear()


def _import(client: TestClient, staff: Staff, name: str, content: bytes) -> Any:
    return client.post(
        f"{API}/pledges/import", files={"file": (name, content)}, headers=staff.auth("supervisor")
    )


def _stored_imports(session: Session) -> int:
    return len(session.exec(select(PledgeImport.id)).all())


def test_an_xlsx_compressed_past_the_ratio_is_refused_before_openpyxl_opens_it(
    client: TestClient, staff: Staff, session: Session, openpyxl_never_opens: None
) -> None:
    bomb = _xlsx(200_000)  # 3.4 MB of shared strings in ~10 KB
    assert len(bomb) < 20_000
    r = _import(client, staff, "bomb.xlsx", bomb)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "ValidationFailed"
    assert "解压后" in body["message"]
    assert "CSV" in body["message"]
    assert body["max_ratio"] == XLSX_MAX_RATIO
    assert _stored_imports(session) == 0


def test_an_xlsx_unpacking_past_the_cap_is_refused_on_the_api_and_the_page(
    client: TestClient,
    staff: Staff,
    session: Session,
    small_import_cap: int,
    openpyxl_never_opens: None,
) -> None:
    # Under the ratio's floor, so only the total counts: 400 KB unpacked, over 20 × 16 KB.
    bomb = _xlsx(24_000)
    assert len(bomb) < small_import_cap
    r = _import(client, staff, "bomb.xlsx", bomb)
    assert r.status_code == 422, r.text
    assert "解压后过大" in r.json()["message"]
    assert "拆分" in r.json()["message"]
    assert r.json()["max_unpacked_bytes"] == XLSX_UNPACKED_FACTOR * small_import_cap

    sign_in(client, staff.handler)
    page = client.post(
        PAGE,
        data={CSRF_FIELD: csrf_of(client, PAGE)},
        files={"file": ("bomb.xlsx", bomb)},
        follow_redirects=False,
    )
    assert page.status_code == 422, page.text
    assert "解压后过大" in page.text
    assert _stored_imports(session) == 0


def test_an_ordinary_workbook_passes_the_zip_check() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["承诺人名称", "承诺期限"])
    for i in range(2000):
        sheet.append([f"公司{i}", "2026-06-01"])
    out = io.BytesIO()
    book.save(out)
    check_xlsx_unpacked(out.getvalue())  # no refusal


def test_a_csv_header_of_too_many_columns_is_refused(
    client: TestClient, staff: Staff, session: Session
) -> None:
    header = "承诺人名称,承诺期限" + "," * 100_000
    r = _import(client, staff, "wide.csv", f"{header}\n甲,2026-04-30\n".encode())
    assert r.status_code == 422, r.text
    assert "表头列数过多" in r.json()["message"]
    assert r.json()["max_columns"] == MAX_COLUMNS
    assert _stored_imports(session) == 0


def test_a_csv_line_far_wider_than_any_row_is_refused_naming_it(client: TestClient, staff: Staff) -> None:
    lines = CSV.splitlines(keepends=True)
    wide = lines[2].rstrip("\n") + "," * (MAX_LINE_COMMAS + 1) + "\n"
    r = _import(client, staff, "wide.csv", "".join([lines[0], lines[1], wide]).encode())
    assert r.status_code == 422, r.text
    assert "第 3 行列数过多" in r.json()["message"]


def test_an_xlsx_header_of_too_many_columns_is_refused_and_extra_row_cells_are_not_read(
    client: TestClient, staff: Staff
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["承诺人名称", "承诺期限", *(f"备注{i}" for i in range(MAX_COLUMNS))])
    sheet.append(["甲", "2026-06-01"])
    out = io.BytesIO()
    book.save(out)
    r = _import(client, staff, "wide.xlsx", out.getvalue())
    assert r.status_code == 422, r.text
    assert "表头列数过多" in r.json()["message"]

    # Within the cap, with cells past the header's width: accepted, the extra cells ignored.
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["承诺人名称", "承诺期限"])
    sheet.append(["甲", "2026-06-01", *(["多余"] * (MAX_COLUMNS + 50))])
    out = io.BytesIO()
    book.save(out)
    assert _import(client, staff, "ok.xlsx", out.getvalue()).status_code == 202


def test_a_form_of_too_many_files_gets_a_chinese_413_on_the_api_and_the_page(client: TestClient) -> None:
    files = [("file", (f"a{i}.pdf", PDF)) for i in range(1001)]
    r = client.post(f"{API}/public/pledges/CN-2026-000001/evidence", files=files)
    assert r.status_code == 413, r.text
    body = r.json()
    assert body["error"] == "TooLarge"
    assert "文件过多" in body["message"]
    assert "1000" in body["message"]

    page = client.post(
        "/pledges/evidence", data={CSRF_FIELD: csrf_of(client, "/pledges/evidence")}, files=files
    )
    assert page.status_code == 413, page.text
    assert "文件过多" in page.text
    assert "1000" in page.text
    assert "Too many" not in page.text


def test_a_form_of_too_many_fields_gets_a_chinese_413(client: TestClient) -> None:
    fields = {f"f{i}": "x" for i in range(1001)}
    r = client.post(
        f"{API}/public/pledges/CN-2026-000001/evidence", data=fields, files={"file": ("a.pdf", PDF)}
    )
    assert r.status_code == 413, r.text
    assert "表单字段过多" in r.json()["message"]


def test_a_malformed_form_gets_a_chinese_422(client: TestClient) -> None:
    r = client.post(
        f"{API}/public/pledges/CN-2026-000001/evidence",
        content=b"no parts here",
        headers={"Content-Type": "multipart/form-data"},  # no boundary
    )
    assert r.status_code == 422, r.text
    assert "无法解析提交的表单" in r.json()["message"]

"""A handed-in file is what its content says, under a name that says the same (models/files.py): a name
ending in another type's extension gets the recognised type's added, so a PDF-prefixed page named .hta or
.html is never opened by the reader's computer as a program or a page; a ZIP is an OFD only with OFD.xml;
invisible direction characters cannot disguise a name; the download header cannot be broken by a name."""

from __future__ import annotations

import io
import zipfile
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from api.downloads import attachment_header, file_response
from models.errors import ValidationFailed
from models.files import Upload, check_uploads, sanitise_filename, sniff
from tests.conftest import Staff
from tests.test_case_files import API, rectifying, report

PDF_PAGE = b"%PDF-1.7\n<html><script>alert(document.domain)</script></html>\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def zipped(*names: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "<x/>")
    return buffer.getvalue()


def unreadable_zip_version(content: bytes) -> bytes:
    """``content`` with its central directory asking for ZIP version 9.9, which zipfile refuses to read."""
    data = bytearray(content)
    entry = data.find(b"PK\x01\x02")
    data[entry + 6 : entry + 8] = (99).to_bytes(2, "little")
    return bytes(data)


def utf8_name(disposition: str) -> str:
    return unquote(disposition.split("filename*=UTF-8''", 1)[1])


def test_a_file_named_as_another_type_is_stored_and_downloaded_with_its_own_types_extension(
    client: TestClient, staff: Staff
) -> None:
    cid = rectifying(client, staff)
    files = [("整改说明.hta", PDF_PAGE), ("现场照片.html", PNG), ("回单.PDF", PDF_PAGE)]
    r = report(client, staff, cid, files)
    assert r.status_code == 200, r.text
    listed = client.get(f"{API}/complaints/{cid}/files", headers=staff.auth("handler")).json()
    assert [f["filename"] for f in listed] == ["整改说明.hta.pdf", "现场照片.html.png", "回单.PDF"]
    got = client.get(f"{API}/complaints/{cid}/files/{listed[0]['id']}", headers=staff.auth("handler"))
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert utf8_name(got.headers["content-disposition"]) == "整改说明.hta.pdf"


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.pdf", b"<!DOCTYPE html><html><script>alert(1)</script></html>"),
        ("logo.png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
        ("合同.ofd", zipped("word/document.xml", "[Content_Types].xml")),
        ("tool.ofd", zipped("META-INF/MANIFEST.MF", "Main.class")),
        ("broken.ofd", b"PK\x03\x04 not a zip at all"),
        ("version.ofd", unreadable_zip_version(zipped("OFD.xml", "Doc_0/Document.xml"))),
    ],
)
def test_pages_images_of_text_and_zips_that_are_not_ofd_are_refused(name: str, content: bytes) -> None:
    with pytest.raises(ValidationFailed, match="类型不受支持"):
        check_uploads([Upload(name, content)])


def test_an_ofd_is_a_zip_with_ofd_xml_at_its_root_and_keeps_the_ofd_extension() -> None:
    ofd = zipped("OFD.xml", "Doc_0/Document.xml")
    assert sniff(ofd) == "application/ofd"
    [stored] = check_uploads([Upload("电子发票", ofd)])
    assert (stored.filename, stored.content_type) == ("电子发票.ofd", "application/ofd")


def test_invisible_direction_characters_cannot_disguise_a_files_name() -> None:
    # U+202E shows "证明\u202efdp.hta" as "证明ath.pdf"; U+200B hides inside a name.
    assert sanitise_filename("证明\u202efdp.hta") == "证明fdp.hta"
    assert sanitise_filename("合\u200b格书.pdf") == "合格书.pdf"
    [stored] = check_uploads([Upload("证明\u202efdp.hta", PDF_PAGE)])
    assert stored.filename == "证明fdp.hta.pdf"


def test_a_long_name_keeps_its_types_extension_within_the_length_limit() -> None:
    [stored] = check_uploads([Upload("长" * 200 + ".exe", PDF_PAGE)])
    assert len(stored.filename) == 120
    assert stored.filename.endswith(".pdf")


def test_the_download_header_keeps_the_extension_in_its_ascii_name_and_admits_no_header_injection() -> None:
    assert attachment_header("付款凭证.pdf").startswith('attachment; filename="file.pdf"; ')
    assert attachment_header("回单_2026.pdf").startswith('attachment; filename="2026.pdf"; ')
    header = attachment_header('a"\r\nSet-Cookie: x=1;.pdf')
    assert "\r" not in header
    assert "\n" not in header
    assert header.count('"') == 2
    assert utf8_name(header) == 'a"\r\nSet-Cookie: x=1;.pdf'  # only percent-encoded in filename*


def test_a_file_stored_under_a_mismatched_name_downloads_with_its_types_extension() -> None:
    # Rows written before names were made to match their type are answered with the type's extension.
    old = file_response(filename="说明.html", content_type="application/pdf", content=PDF_PAGE, inline=True)
    assert old.headers["content-disposition"].startswith("inline;")
    assert utf8_name(old.headers["content-disposition"]) == "说明.html.pdf"
    assert old.headers["x-content-type-options"] == "nosniff"
    ofd = file_response(filename="发票.ofd", content_type="application/ofd", content=b"PK", inline=True)
    assert ofd.headers["content-disposition"].startswith("attachment;")  # never shown in the page
    assert utf8_name(ofd.headers["content-disposition"]) == "发票.ofd"

"""The admin calendar page takes the year's notice as a file (the one `shouxin calendar load` reads),
besides the paste box: previewed first, saved on confirmation, refused as the CLI refuses it."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.calendar import CalendarYear
from tests.conftest import Staff
from tests.web_support import csrf_of, sign_in
from web.admin_calendar import CALENDAR_FILE_MAX_BYTES
from web.core import CSRF_FIELD

PAGE = "/staff/admin/calendar"
EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "calendar-example-2027.json"


def _upload(client: TestClient, name: str, content: bytes, **data: str) -> Any:
    token = csrf_of(client, PAGE)
    return client.post(
        PAGE,
        data={CSRF_FIELD: token, "confirm": "0", **data},
        files={"file": (name, content, "application/json")},
        follow_redirects=False,
    )


def _saved_2027(session: Session) -> bool:
    return session.exec(select(CalendarYear).where(CalendarYear.year == 2027)).first() is not None


def test_an_uploaded_notice_is_previewed_then_saved_as_shown(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    page = client.get(PAGE).text
    assert 'enctype="multipart/form-data"' in page
    assert 'type="file" name="file"' in page
    # A Windows editor's BOM is tolerated, as by the CLI; the file wins over whatever is in the paste box.
    preview = _upload(client, "2027.json", b"\xef\xbb\xbf" + EXAMPLE.read_bytes(), notice="{not json")
    assert preview.status_code == 200, preview.text
    assert 'id="calendar-diff"' in preview.text
    assert "确认保存" in preview.text
    assert not _saved_2027(session)
    # The box now holds the file's text: confirming saves what was previewed.
    box = re.search(r'<textarea name="notice"[^>]*>(.*?)</textarea>', preview.text, re.S)
    assert box
    assert '"year": 2027' in html.unescape(box.group(1))
    previewed = re.search(r'name="previewed" value="([^"]*)"', preview.text)
    assert previewed
    token = csrf_of(client, PAGE)
    saved = client.post(
        PAGE,
        data={
            CSRF_FIELD: token,
            "confirm": "1",
            "notice": html.unescape(box.group(1)),
            "previewed": previewed.group(1),
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert _saved_2027(session)
    assert "已保存放假通知" in client.get(saved.headers["location"]).text


def test_an_uploaded_file_is_refused_as_the_cli_refuses_it(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    broken = _upload(client, "2027.json", b'{"year": 2027,')
    assert broken.status_code == 422
    assert "节假日文件 2027.json 不是有效的 JSON" in broken.text
    invalid = _upload(client, "2027.json", b'{"year": 2027, "holidays": "none"}')
    assert invalid.status_code == 422
    gbk = _upload(client, "2027.json", '{"year": 2027, "notice_title": "放假"}'.encode("gbk"))
    assert gbk.status_code == 422
    assert "不是 UTF-8 编码" in gbk.text
    huge = _upload(client, "2027.json", b" " * (CALENDAR_FILE_MAX_BYTES + 1))
    assert huge.status_code == 422
    assert "超过" in huge.text
    confirmed = _upload(client, "2027.json", b'{"year": 2027,', confirm="1")
    assert confirmed.status_code == 422
    assert not _saved_2027(session)

    client.cookies.clear()
    sign_in(client, staff.supervisor)
    assert _upload(client, "2027.json", EXAMPLE.read_bytes(), confirm="1").status_code == 403
    assert not _saved_2027(session)

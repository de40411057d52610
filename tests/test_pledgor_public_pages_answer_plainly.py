"""The pledgor on the public pages is answered in its own words: a file too large for the page's form is
the page's error in Chinese with the limit in MB (the API keeps its JSON), a re-issued access code lets a
locked-out pledgor back in, evidence the pledge no longer takes is refused with the next step, and the
number fields show a number as the pledgor's notice prints it."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from models.breach import PublishedBreach
from models.pledge import Pledge
from models.ratelimit import AuthFailure
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_pledgor_is_shown_and_told_the_truth import API, PDF, app_at, register
from tests.test_publication import CODE
from tests.test_register import PUBLISHED_ON, access_code, publish
from tests.web_support import CSRF_FIELD, csrf_of, post_form

ONE_MB = 1024 * 1024
ALERT = re.compile(r'role="alert">([^<]*)<')


@pytest.fixture
def one_mb_uploads(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    monkeypatch.setenv("SHOUXIN_UPLOAD_MAX_BYTES", str(ONE_MB))
    get_settings.cache_clear()
    yield ONE_MB
    get_settings.cache_clear()


def _too_big() -> bytes:
    # Over the body's cap (the file limit plus the form's allowance): refused by its declared length.
    return b"%PDF-1.7\n" + b"0" * (ONE_MB + 128 * 1024)


def _evidence(c: TestClient, number: str, code: str, name: str, content: bytes) -> Any:
    token = csrf_of(c, f"/pledges/evidence?number={number}")
    return c.post(
        "/pledges/evidence",
        data={CSRF_FIELD: token, "number": number, "access_code": code},
        files={"file": (name, content, "application/pdf")},
        follow_redirects=False,
    )


def _alert(r: Any) -> str:
    found = ALERT.findall(r.text)
    assert found, r.text
    return str(found[0])


def test_a_file_over_the_limit_on_the_evidence_page_is_the_page_in_chinese_and_json_on_the_api(
    engine: Engine, staff: Staff, one_mb_uploads: int
) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    created = register(c, staff)
    page = _evidence(c, created["number"], created["access_code"], "big.pdf", _too_big())
    assert page.status_code == 413, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert "文件过大：上限 1 MB" in page.text
    assert "file too large" not in page.text
    assert '"error"' not in page.text

    api = c.post(
        f"{API}/public/pledges/{created['number']}/evidence",
        data={"access_code": created["access_code"]},
        files={"file": ("big.pdf", _too_big(), "application/pdf")},
    )
    assert api.status_code == 413
    assert api.json()["error"] == "TooLarge"
    assert api.json()["message"].startswith("文件过大：上限 1 MB")


def test_a_file_over_the_limit_on_the_objection_page_is_the_page_in_chinese(
    engine: Engine, session: Session, staff: Staff, one_mb_uploads: int
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    c = app_at(engine, PUBLISHED_ON)
    path = f"/register/{record.number}/objection"
    r = c.post(
        path,
        data={CSRF_FIELD: csrf_of(c, path), "access_code": access_code(session, record), "reason": "已履约"},
        files=[("files", ("big.pdf", _too_big(), "application/pdf"))],
    )
    assert r.status_code == 413, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "文件过大：上限 1 MB" in r.text


def test_the_evidence_form_names_the_file_limit_from_the_setting(engine: Engine, one_mb_uploads: int) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    assert "不超过 1 MB" in c.get("/pledges/evidence").text


def test_a_reissued_access_code_lets_the_locked_out_pledgor_back_in(
    engine: Engine, session: Session, staff: Staff
) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    a = register(c, staff)
    b = register(c, staff, pledgor_name="乙建设有限公司", pledgor_credit_code="91350100M000100Y43")
    limit = get_settings().tracking_max_failures_per_case
    for i in range(limit):
        post_form(
            c, "/pledges/status", {"number": a["number"], "access_code": f"AAAA-BBBB-CCC{'DEFGH'[i % 5]}"}
        )
    post_form(c, "/pledges/status", {"number": b["number"], "access_code": "AAAA-BBBB-CCCD"})
    locked = post_form(c, "/pledges/status", {"number": a["number"], "access_code": a["access_code"]})
    assert locked.status_code == 429, locked.text

    r = c.post(f"{API}/pledges/{a['id']}/access-code", json={"reason": "遗失"}, headers=staff.auth("handler"))
    assert r.status_code == 200, r.text
    back = post_form(c, "/pledges/status", {"number": a["number"], "access_code": r.json()["access_code"]})
    assert back.status_code == 200, back.text
    assert 'id="pledge-status"' in back.text

    # Only the re-issued pledge's count is forgotten: the other pledge's wrong code still counts.
    session.expire_all()
    other = select(func.count()).where(col(AuthFailure.scope) == "case", col(AuthFailure.key) == b["number"])
    assert session.exec(other).one() == 1


def test_evidence_under_review_is_refused_with_whom_to_contact_not_the_lifecycle(
    engine: Engine, staff: Staff
) -> None:
    c = app_at(engine, dt.date(2026, 3, 9))
    created = register(c, staff)
    assert _evidence(c, created["number"], created["access_code"], "a.pdf", PDF).status_code == 201
    again = _evidence(c, created["number"], created["access_code"], "b.pdf", PDF + b"2")
    assert again.status_code == 409
    message = _alert(again)
    assert "正在核查" in message
    assert "市住房和城乡建设局（邮箱 zjj@example.gov.cn）" in message
    assert "当前可执行" not in again.text

    confirmed = c.post(
        f"{API}/pledges/{created['id']}/actions/confirm", json={}, headers=staff.auth("handler")
    )
    assert confirmed.status_code == 200, confirmed.text
    closed = _evidence(c, created["number"], created["access_code"], "c.pdf", PDF + b"3")
    assert closed.status_code == 409
    assert "承诺已履行完毕" in _alert(closed)


def test_evidence_for_a_published_pledge_is_refused_with_the_way_to_credit_repair(
    engine: Engine, session: Session, staff: Staff
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", CODE))
    pledge = session.get(Pledge, record.pledge_id)
    assert pledge is not None
    c = app_at(engine, PUBLISHED_ON)
    r = _evidence(c, pledge.number, access_code(session, record), "late.pdf", PDF)
    assert r.status_code == 409
    message = _alert(r)
    assert "公示为失信" in message
    assert "信用修复" in message
    assert record.number in message
    assert "当前可执行" not in r.text
    assert session.exec(select(PublishedBreach)).one().id == record.id


def test_the_number_fields_show_a_number_shaped_as_the_notice_prints_it(engine: Engine, staff: Staff) -> None:
    c = app_at(engine, dt.date(2026, 3, 2))
    shape = re.compile(r"CN-\d{4}-\d{6}")
    assert shape.fullmatch(register(c, staff)["number"])
    for path in ("/pledges/status", "/pledges/evidence"):
        placeholder = re.search(r'name="number"[^>]*placeholder="([^"]+)"', c.get(path).text)
        assert placeholder is not None, path
        assert shape.fullmatch(placeholder.group(1)), (path, placeholder.group(1))

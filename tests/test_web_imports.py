"""The bulk-import page: upload with CSRF, a page that follows the import until it is done, the per-row
report, and the offline access codes handed out once (to the uploader or a supervisor) and then erased."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api.deps import actor_of
from models.accounts import authenticate, create_user
from models.errors import Conflict
from models.lifecycle import Role
from models.org import UserCreate
from models.pledge import Pledge
from models.pledges.access import verify
from models.pledges.import_jobs import CODES_TAKEN, PledgeImport, run_import, take_offline_codes
from models.settings import get_settings
from tests.conftest import Staff
from tests.test_pledges import CSV
from tests.web_support import csrf_of, post_form, sign_in
from web.core import CSRF_FIELD

PAGE = "/staff/pledges/import"
REFRESH = '<meta http-equiv="refresh"'


def _upload(client: TestClient, name: str, content: bytes) -> object:
    return client.post(
        PAGE,
        data={CSRF_FIELD: csrf_of(client, PAGE)},
        files={"file": (name, content)},
        follow_redirects=False,
    )


def _uploaded(client: TestClient) -> int:
    response = _upload(client, "承诺.csv", CSV.encode())
    assert response.status_code == 303, response.text  # type: ignore[attr-defined]
    location = response.headers["location"]  # type: ignore[attr-defined]
    match = re.fullmatch(rf"{PAGE}/(\d+)", location)
    assert match, location
    return int(match.group(1))


def _take_codes(client: TestClient, import_id: int) -> object:
    return post_form(client, f"{PAGE}/{import_id}/codes", {}, page=f"{PAGE}/{import_id}")


def test_an_uploaded_file_is_followed_until_done_with_its_row_report(
    client: TestClient, staff: Staff, engine: Engine
) -> None:
    sign_in(client, staff.handler)
    assert 'href="/staff/pledges/import"' in client.get("/staff").text  # in the staff navigation
    import_id = _uploaded(client)

    waiting = client.get(f"{PAGE}/{import_id}")
    assert waiting.status_code == 200
    assert waiting.headers["cache-control"] == "no-store"
    assert "排队等待" in waiting.text
    assert REFRESH in waiting.text  # refreshes itself while the import is unfinished
    listed = client.get(PAGE)
    assert f'href="{PAGE}/{import_id}"' in listed.text
    assert REFRESH in listed.text

    run_import(engine=engine, import_id=import_id)
    done = client.get(f"{PAGE}/{import_id}")
    assert "已完成" in done.text
    assert REFRESH not in done.text
    assert REFRESH not in client.get(PAGE).text
    report = done.text.split('id="report"')[1]
    assert re.search(r">3</td><td[^>]*>统一社会信用代码</td>", report)
    assert re.search(r">5</td><td[^>]*>受理部门代码</td>", report)
    assert "办理码仅可下载一次" in done.text


def test_the_codes_file_is_given_once_then_erased_and_the_download_logged(
    client: TestClient, staff: Staff, engine: Engine, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    sign_in(client, staff.intake)
    import_id = _uploaded(client)
    run_import(engine=engine, import_id=import_id)

    with caplog.at_level(logging.INFO, logger="models.pledges.import_jobs"):
        download = _take_codes(client, import_id)
    assert download.status_code == 200  # type: ignore[attr-defined]
    assert download.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    assert "attachment" in download.headers["content-disposition"]  # type: ignore[attr-defined]
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))  # type: ignore[attr-defined]
    assert rows[0] == ["承诺编号", "承诺人名称", "办理码"]
    [(number, name, code)] = rows[1:]
    assert name == "张三"
    pledge = session.exec(select(Pledge).where(Pledge.number == number)).one()
    assert verify(code, pledge.access_code_digest)  # the pledgor's real code
    assert any(
        f"导入任务 {import_id}" in r.getMessage() and "受理员小王" in r.getMessage() for r in caplog.records
    )

    job = session.get(PledgeImport, import_id)
    assert job is not None
    session.refresh(job)
    assert job.report["offline_codes"] == []  # no longer kept in clear
    assert job.report[CODES_TAKEN]["count"] == 1
    assert code not in str(job.report)
    page = client.get(f"{PAGE}/{import_id}")
    assert "由 受理员小王 下载（1 个）" in page.text
    assert 'action="/staff/pledges/import/' not in page.text.split('id="codes"')[1].split("</section>")[0]

    again = _take_codes(client, import_id)
    assert again.status_code == 409  # type: ignore[attr-defined]
    assert "仅可下载一次" in again.text  # type: ignore[attr-defined]
    api = client.get(f"/api/v1/pledges/imports/{import_id}", headers=staff.auth("intake")).json()
    assert api["offline_codes"] == []


def test_only_the_uploader_or_a_supervisor_may_take_the_codes(
    client: TestClient, staff: Staff, engine: Engine, session: Session
) -> None:
    _, colleague = create_user(
        session=session, data=UserCreate(name="受理员小赵", role=Role.INTAKE, email=None)
    )
    session.commit()
    sign_in(client, staff.intake)
    import_id = _uploaded(client)
    run_import(engine=engine, import_id=import_id)

    client.cookies.clear()
    sign_in(client, colleague)  # sees the import (same intake desk), may not take its codes
    page = client.get(f"{PAGE}/{import_id}")
    assert page.status_code == 200
    assert "仅上传人 受理员小王 或督办员可以下载" in page.text
    refused = _take_codes(client, import_id)
    assert refused.status_code == 403  # type: ignore[attr-defined]

    client.cookies.clear()
    sign_in(client, staff.handler2)  # another department: the import does not exist for it
    assert client.get(f"{PAGE}/{import_id}").status_code == 404
    assert _take_codes(client, import_id).status_code == 404  # type: ignore[attr-defined]

    client.cookies.clear()
    sign_in(client, staff.supervisor)
    assert _take_codes(client, import_id).status_code == 200  # type: ignore[attr-defined]


def test_codes_are_not_given_before_the_import_is_done(client: TestClient, staff: Staff) -> None:
    sign_in(client, staff.supervisor)
    import_id = _uploaded(client)
    early = _take_codes(client, import_id)
    assert early.status_code == 409  # type: ignore[attr-defined]
    assert "导入完成后" in early.text  # type: ignore[attr-defined]


def test_of_two_downloads_at_once_only_one_gets_the_codes(
    client: TestClient, staff: Staff, engine: Engine
) -> None:
    sign_in(client, staff.supervisor)
    import_id = _uploaded(client)
    run_import(engine=engine, import_id=import_id)
    with Session(engine) as first, Session(engine) as second:
        supervisor = authenticate(session=first, token=staff.supervisor)
        assert supervisor is not None
        actor = actor_of(supervisor)
        # The first download has read the import (codes still there) when the second one commits.
        seen = first.get(PledgeImport, import_id)
        assert seen is not None
        assert seen.report["offline_codes"]
        now = dt.datetime.now(dt.UTC)
        _, codes = take_offline_codes(session=second, import_id=import_id, actor=actor, now=now)
        second.commit()
        assert len(codes) == 1
        with pytest.raises(Conflict):
            take_offline_codes(session=first, import_id=import_id, actor=actor, now=now)


def test_a_refused_upload_says_why_on_the_page(client: TestClient, staff: Staff) -> None:
    sign_in(client, staff.intake)
    missing = client.post(PAGE, data={CSRF_FIELD: csrf_of(client, PAGE)}, follow_redirects=False)
    assert missing.status_code == 422
    assert "请选择要导入的 CSV 或 XLSX 文件" in missing.text
    wrong = _upload(client, "承诺.csv", "姓名,电话\n张三,1\n".encode())
    assert wrong.status_code == 422  # type: ignore[attr-defined]
    assert 'class="alert error"' in wrong.text  # type: ignore[attr-defined]
    no_csrf = client.post(PAGE, files={"file": ("承诺.csv", CSV.encode())}, follow_redirects=False)
    assert no_csrf.status_code == 403


def test_a_pledgor_texted_the_code_is_not_among_the_codes_to_hand_over_and_the_page_says_who_is(
    client: TestClient, staff: Staff, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_SMS_PROVIDER", "http")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_URL", "http://127.0.0.1:9/sms")
    monkeypatch.setenv("SHOUXIN_SMS_GATEWAY_SECRET", "a-real-shared-secret-1")
    get_settings.cache_clear()
    sign_in(client, staff.intake)
    content = (
        "承诺人类型,承诺人名称,承诺事项,承诺内容,承诺期限,受理部门代码,电子邮箱,联系电话\n"
        "个人,孙八,施工许可,审查合格书,2026-04-30,D01,,13900001111\n"
        "个人,王十二,施工许可,审查合格书,2026-04-30,D01,,\n"
    )
    response = _upload(client, "短信.csv", content.encode())
    import_id = int(response.headers["location"].rsplit("/", 1)[1])  # type: ignore[attr-defined]
    run_import(engine=engine, import_id=import_id)

    codes = client.get(f"{PAGE}/{import_id}").text.split('id="codes"')[1].split("</section>")[0]
    assert "无可用邮箱或短信的承诺人" in codes
    assert "<strong>1</strong> 位承诺人无可用邮箱或短信" in codes
    rows = list(csv.reader(io.StringIO(_take_codes(client, import_id).content.decode("utf-8-sig"))))  # type: ignore[attr-defined]
    assert [name for _, name, _ in rows[1:]] == ["王十二"]

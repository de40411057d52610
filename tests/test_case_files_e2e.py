"""The file forms of issue 15 in a real headless Chromium against uvicorn: the department's rectification
report with files on the case page, the subject's objection and repair forms with files read on the staff
record page, and staff uploading a pledgor's evidence on the pledge page. Photographed at 1280×800 and
390×844 under tests/artifacts/ (see tests/web_support.py)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from playwright.sync_api import FilePayload
from sqlmodel import Session, select

from models.breach import PublishedBreach
from tests.test_complaints_api import BODY
from tests.test_pledges import body as pledge_body
from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    Live,
    Pages,
    act,
    api,
    browser_fixture,
    fresh_engine,
    pages_fixture,
    publish_a_breach,
    running,
    seed_staff,
    serve,
    shoot,
)

PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"
    b"\x00\x00\x00\x0cIDATx\x9cc\xf8\xcf\xc0\x00\x00\x03\x01\x01\x00\xc9\xfe\x92\xef\x00\x00\x00\x00IEND"
    b"\xaeB`\x82"
)


def payload(name: str, content: bytes, mime: str = "application/pdf") -> FilePayload:
    return {"name": name, "mimeType": mime, "buffer": content}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "case-files")
    with Session(engine) as session:
        tokens = seed_staff(session)
    code = publish_a_breach(engine)
    with Session(engine) as session:
        number = session.exec(select(PublishedBreach.number)).one()
    with running(engine, tokens, record=(number, code)) as served:
        yield served


def rectifying(live: Live) -> int:
    with api(live, "intake") as intake, api(live, "handler") as handler, api(live, "competent") as competent:
        created = intake.post("/complaints", json=BODY)
        assert created.status_code == 201, created.text
        cid = int(created.json()["id"])
        steps = [
            (intake, "accept", {}),
            (intake, "dispatch", {"lead_department_code": "D01"}),
            (handler, "sign_for", {}),
            (competent, "verify_true", {}),
            (competent, "order_rectification", {"requirements": "按合同约定支付剩余工程款"}),
        ]
        for client, action, data in steps:
            r = client.post(f"/complaints/{cid}/actions/{action}", json=data)
            assert r.status_code == 200, r.text
    return cid


def test_the_handler_reports_rectification_with_files_and_opens_them(pages: Pages, live: Live) -> None:
    cid = rectifying(live)
    handler = pages("handler")
    handler.goto(f"{live.url}/staff/complaints/{cid}")
    handler.locator('details:has(form[action$="/act/report_rectification"]) summary').click()
    files = handler.locator('form[action$="/act/report_rectification"] input[name=files]')
    files.set_input_files([payload("付款凭证.pdf", PDF), payload("现场照片.png", PNG, "image/png")])
    shoot(handler, "50-rectification-files-form", both=True)
    act(handler, "report_rectification", evidence="已于3月10日全额支付剩余工程款")
    listed = handler.locator("#case-files").inner_text()
    assert "付款凭证.pdf" in listed
    assert "现场照片.png" in listed
    shoot(handler, "51-rectification-files-listed", both=True)
    with handler.expect_download() as download:
        handler.locator("#case-files a:has-text('下载')").first.click()
    assert download.value.suggested_filename == "付款凭证.pdf"


def test_the_subject_objects_with_files_and_the_department_reads_them(pages: Pages, live: Live) -> None:
    number, code = live.facts["record"]
    public = pages(size="phone")
    public.goto(f"{live.url}/register/{number}/objection")
    public.fill("input[name=access_code]", code)
    public.fill("textarea[name=reason]", "施工图审查合格书已于期限内补交")
    public.set_input_files("input[name=files]", [payload("合格书.pdf", b"")])
    public.click("button:has-text('提交异议')")
    public.wait_for_load_state()
    assert "文件“合格书.pdf”为空" in public.locator(".alert.error").inner_text()
    public.fill("input[name=access_code]", code)
    public.set_input_files("input[name=files]", [payload("合格书.pdf", PDF)])
    shoot(public, "52-objection-files-form", both=True)
    public.click("button:has-text('提交异议')")
    public.wait_for_load_state()
    assert "异议" in public.locator("main").inner_text()
    assert "合格书.pdf" not in public.content()  # the public record serves no file

    handler = pages("handler")
    handler.goto(f"{live.url}/staff/breaches")
    handler.click(f"text={number}")
    assert "合格书.pdf" in handler.locator("#request-files").inner_text()
    shoot(handler, "53-breach-request-files", both=True)
    with handler.expect_download() as download:
        handler.locator("#request-files a:has-text('下载')").click()
    assert download.value.suggested_filename == "合格书.pdf"


def test_the_subject_requests_repair_with_files(pages: Pages, live: Live) -> None:
    number, code = live.facts["record"]
    with api(live, "handler") as handler:
        [record] = handler.get("/breaches").json()
        if record["state"] == "under_objection":  # the objection of the test above is decided first
            decided = handler.post(
                f"/breaches/{record['id']}/actions/reject_objection",
                json={"reason": "补交日期晚于承诺期限", "expected_version": record["version"]},
            )
            assert decided.status_code == 200, decided.text
    # Three months on, the minimum publication period is over and repair may be requested.
    with serve(live.engine, today=dt.date(2026, 6, 1)) as later:
        public = pages()
        public.goto(f"{later}/register/{number}/repair")
        public.fill("input[name=access_code]", code)
        public.fill("textarea[name=statement]", "已补交施工图审查合格书")
        public.fill("textarea[name=repair_pledge]", "本单位承诺今后严格履行告知承诺")
        public.set_input_files("input[name=files]", [payload("补交回执.pdf", PDF)])
        shoot(public, "54-repair-files-form", both=True)
        public.click("button:has-text('提交信用修复申请')")
        public.wait_for_load_state()
        assert "/repair" not in public.url, public.locator("main").inner_text()
    with api(live, "handler") as handler:
        views = handler.get("/breaches").json()
    [repair] = [v for v in views if v["request_kind"] == "repair"]
    assert [f["filename"] for f in repair["request_files"]] == ["补交回执.pdf"]


def test_window_staff_upload_a_pledgors_evidence_on_the_pledge_page(pages: Pages, live: Live) -> None:
    with api(live, "intake") as intake:
        data = pledge_body(
            deadline="2026-04-30", pledgor_kind="individual", pledgor_name="丙样例", pledgor_credit_code=None
        )
        created = intake.post("/pledges", json=data)
        assert created.status_code == 201, created.text
        pledge = created.json()
    handler = pages("handler", size="phone")
    handler.goto(f"{live.url}/staff/pledges/{pledge['id']}")
    handler.locator("#upload-evidence summary").click()
    handler.set_input_files("#upload-evidence input[name=file]", [payload("审查合格书扫描件.pdf", PDF)])
    handler.fill("#upload-evidence input[name=note]", "窗口收取纸质原件，已扫描")
    shoot(handler, "55-staff-evidence-upload", both=True)
    handler.click("#upload-evidence button:has-text('上传材料')")
    handler.wait_for_load_state()
    assert "已完成操作：提交履约材料" in handler.locator(".alert.ok").inner_text()
    assert "审查合格书扫描件.pdf" in handler.locator("#evidence").inner_text()
    assert "工作人员代承诺人提交" in handler.locator("#timeline").inner_text()
    shoot(handler, "56-staff-evidence-uploaded", both=True)

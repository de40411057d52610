"""Files on the pages (issue 15): the department's rectification report with files on the case page, the
objector's files on the public objection form read on the staff record page, and staff uploading a
pledgor's evidence on the pledge page; the public pages serve no file."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.complaint import Complaint
from models.files import CaseFile
from models.pledge import Pledge, PledgeEvidence
from tests.conftest import Staff
from tests.test_case_files import PDF, PNG, rectifying
from tests.test_publication import CODE
from tests.test_register import access_code, publish
from tests.test_staff_pledge_pages import pledge
from tests.web_support import csrf_of, sign_in
from web.core import CSRF_FIELD


def post_files(
    client: TestClient, path: str, data: dict[str, str], files: list[tuple[str, Any]], *, page: str
) -> Any:
    token = csrf_of(client, page)
    return client.post(path, data={CSRF_FIELD: token, **data}, files=files, follow_redirects=False)


def version(session: Session, model: type[Any], row_id: int) -> str:
    session.expire_all()
    row = session.get(model, row_id)
    assert row is not None
    return str(row.version)


def test_the_handler_reports_rectification_with_files_on_the_case_page(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = rectifying(client, staff)
    sign_in(client, staff.handler)
    page = client.get(f"/staff/complaints/{cid}")
    assert 'enctype="multipart/form-data"' in page.text
    assert 'type="file" name="files" multiple' in page.text
    assert "尚无随整改情况报告上传的文件" in page.text
    url = f"/staff/complaints/{cid}/act/report_rectification"
    data = {"evidence": "已全额支付工程款", "expected_version": version(session, Complaint, cid)}
    word = [("files", ("合同.docx", b"\xd0\xcf\x11\xe0 old word"))]
    wrong = post_files(client, url, data, word, page=page.url.path)
    assert wrong.status_code == 422
    assert "类型不受支持：仅接受 PDF、PNG、JPEG、OFD" in wrong.text
    done = post_files(
        client,
        url,
        data,
        [("files", ("付款凭证.pdf", PDF)), ("files", ("回单.png", PNG))],
        page=page.url.path,
    )
    assert done.status_code == 303, done.text
    shown = client.get(done.headers["location"])
    assert "付款凭证.pdf" in shown.text
    assert "回单.png" in shown.text
    [first, second] = session.exec(select(CaseFile).order_by(col(CaseFile.id))).all()
    link = f"/staff/complaints/{cid}/files/{first.id}"
    assert f'href="{link}"' in shown.text
    got = client.get(link)
    assert (got.status_code, got.content) == (200, PDF)
    inline = client.get(f"/staff/complaints/{cid}/files/{second.id}", params={"inline": "true"})
    assert inline.headers["content-disposition"].startswith("inline;")
    sign_in(client, staff.handler2)
    assert client.get(link).status_code == 404
    client.cookies.clear()
    assert client.get(link, follow_redirects=False).status_code == 303  # to the sign-in page


def test_an_objector_attaches_files_on_the_public_form_and_only_the_department_reads_them(
    client: TestClient, engine: Engine, session: Session, staff: Staff
) -> None:
    [breach] = publish(engine, session, ("示范建设有限公司", CODE))
    form_page = f"/register/{breach.number}/objection"
    shown = client.get(form_page)
    assert 'enctype="multipart/form-data"' in shown.text
    assert "仅供认定部门审查，不对外公开" in shown.text
    data = {"access_code": access_code(session, breach), "reason": "合格书已于期限内补交"}
    empty = post_files(client, form_page, data, [("files", ("空白.pdf", b""))], page=form_page)
    assert empty.status_code == 422
    assert "文件“空白.pdf”为空；请选择要上传的材料" in empty.text
    assert "(empty file)" not in empty.text  # the public reads Chinese only
    done = post_files(client, form_page, data, [("files", ("邮寄回执.pdf", PDF))], page=form_page)
    assert done.status_code == 303, done.text
    assert "邮寄回执.pdf" not in client.get(f"/register/{breach.number}").text
    [row] = session.exec(select(CaseFile)).all()
    assert (row.case_kind, row.kind, row.uploaded_by) == ("breach", "objection", "失信主体（社会公众）")
    sign_in(client, staff.handler)
    page = client.get(f"/staff/breaches/{breach.id}")
    assert "邮寄回执.pdf" in page.text
    link = f"/staff/breaches/{breach.id}/files/{row.id}"
    assert f'href="{link}"' in page.text
    assert client.get(link).content == PDF
    sign_in(client, staff.handler2)
    assert client.get(link).status_code == 404


def test_staff_upload_the_pledgors_evidence_on_the_pledge_page_audited_as_on_its_behalf(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pid = pledge(client, staff)["id"]
    page = f"/staff/pledges/{pid}"
    sign_in(client, staff.supervisor)  # supervisors review, they do not hand in evidence
    assert 'id="upload-evidence"' not in client.get(page).text
    sign_in(client, staff.handler)
    assert 'id="upload-evidence"' in client.get(page).text
    url = f"/staff/pledges/{pid}/evidence"
    fresh = version(session, Pledge, pid)
    forged_form = {CSRF_FIELD: "forged", "expected_version": fresh}
    forged = client.post(url, data=forged_form, files=[("file", ("a.pdf", PDF))])
    assert forged.status_code == 403
    none = post_files(client, url, {"expected_version": fresh}, [], page=page)
    assert none.status_code == 422
    assert "请至少选择一个材料文件" in none.text
    stale = post_files(client, url, {"expected_version": "0"}, [("file", ("合格书.pdf", PDF))], page=page)
    assert stale.status_code == 409
    assert session.exec(select(PledgeEvidence)).all() == []
    note = {"expected_version": fresh, "note": "窗口收取纸质合格书原件，已扫描"}
    done = post_files(client, url, note, [("file", ("合格书.pdf", PDF))], page=page)
    assert (done.status_code, done.headers["location"]) == (303, f"/staff/pledges/{pid}?done=submit_evidence")
    after = client.get(done.headers["location"]).text
    assert "已完成操作：提交履约材料" in after
    assert "合格书.pdf" in after
    assert "工作人员代承诺人提交" in after
    [row] = session.exec(select(PledgeEvidence)).all()
    assert row.uploaded_by == "住建经办人"
    event = session.exec(
        select(CaseEvent).where(CaseEvent.case_kind == "pledge", CaseEvent.event == "submit_evidence")
    ).one()
    assert event.data["on_behalf_of_pledgor"] is True
    assert event.note == "工作人员代承诺人提交（窗口收取的纸质材料扫描件等）：窗口收取纸质合格书原件，已扫描"
    assert (event.actor_name, event.to_state) == ("住建经办人", "evidence_submitted")

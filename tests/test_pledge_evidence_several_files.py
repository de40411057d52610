"""Several evidence files in one submission (a 施工图审查合格书 with its attachments): one row per file, one
``submit_evidence`` event, one received-mail naming them all; the API, the pledgor's page and the staff
page alike. A submission refused for its files (too many, a bad type) stores nothing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.audit import CaseEvent
from models.files import file_path
from models.outbox import Notification
from models.pledge import Pledge, PledgeEvidence
from notifications.render import render
from tests.conftest import Staff
from tests.test_case_file_pages import post_files, version
from tests.test_case_files import PNG, two_files_at_most  # noqa: F401  (a fixture)
from tests.test_pledge_evidence import PDF, new_pledge
from tests.web_support import csrf_of, sign_in
from web.core import CSRF_FIELD

ATTACHMENT = b"%PDF-1.7 attachment to the certificate"


def _api_upload(client: TestClient, staff: Staff, pid: Any, files: list[tuple[str, bytes]]) -> Any:
    return client.post(
        f"/api/v1/pledges/{pid}/evidence",
        files=[("file", f) for f in files],
        headers=staff.auth("handler"),
    )


def _submissions(session: Session, pid: int) -> list[CaseEvent]:
    session.expire_all()
    stmt = select(CaseEvent).where(
        CaseEvent.case_kind == "pledge", CaseEvent.case_id == pid, CaseEvent.event == "submit_evidence"
    )
    return list(session.exec(stmt.order_by(col(CaseEvent.seq))).all())


def _received_mails(session: Session, pid: int) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(
        Notification.template == "pledge_evidence_received",
        Notification.case_kind == "pledge",
        Notification.case_id == pid,
    )
    return list(session.exec(stmt).all())


def _rows(session: Session) -> list[PledgeEvidence]:
    session.expire_all()
    return list(session.exec(select(PledgeEvidence).order_by(col(PledgeEvidence.id))).all())


def _pledgor_page_upload(client: TestClient, pledge: dict[str, Any], files: list[tuple[str, bytes]]) -> Any:
    token = csrf_of(client, f"/pledges/evidence?number={pledge['number']}")
    return client.post(
        "/pledges/evidence",
        data={CSRF_FIELD: token, "number": pledge["number"], "access_code": pledge["access_code"]},
        files=[("file", f) for f in files],
        follow_redirects=False,
    )


def test_two_files_through_the_api_are_one_submission_with_two_rows_one_event_and_one_mail(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pid = int(new_pledge(client, staff)["id"])
    r = _api_upload(client, staff, pid, [("合格书.pdf", PDF), ("附件一.png", PNG)])
    assert r.status_code == 201, r.text
    answer = r.json()
    first, second = _rows(session)
    assert [f["id"] for f in answer["files"]] == [first.id, second.id]
    assert [f["filename"] for f in answer["files"]] == ["合格书.pdf", "附件一.png"]
    assert answer["evidence"] == answer["files"][0]  # a one-file client reads the first file as before
    assert answer["pledge"]["state"] == "evidence_submitted"
    [event] = _submissions(session, pid)
    assert event.data["evidence_id"] == first.id
    assert event.data["sha256"] == first.sha256
    assert event.data["filename"] == "合格书.pdf"
    assert event.data["evidence_ids"] == [first.id, second.id]
    assert event.data["filenames"] == ["合格书.pdf", "附件一.png"]
    [mail] = _received_mails(session, pid)
    message = render(mail.template, mail.context)
    for part in (message.text, message.html):
        assert "合格书.pdf" in part
        assert "附件一.png" in part
        assert "共 2 个文件" in part


def test_one_file_through_the_api_is_answered_and_recorded_as_before(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pid = int(new_pledge(client, staff)["id"])
    r = _api_upload(client, staff, pid, [("合格书.pdf", PDF)])
    assert r.status_code == 201, r.text
    answer = r.json()
    [row] = _rows(session)
    assert answer["evidence"]["id"] == row.id
    assert answer["evidence"]["filename"] == "合格书.pdf"
    assert [f["id"] for f in answer["files"]] == [row.id]
    [event] = _submissions(session, pid)
    assert (event.data["evidence_id"], event.data["filename"]) == (row.id, "合格书.pdf")
    assert "evidence_ids" not in event.data
    assert "filenames" not in event.data
    [mail] = _received_mails(session, pid)
    text = render(mail.template, mail.context).text
    assert "履约材料“合格书.pdf”已于" in text
    assert "个文件" not in text


def test_a_mail_queued_with_only_the_first_filename_still_renders(
    client: TestClient, staff: Staff, session: Session
) -> None:
    # Mails queued before several files were possible carry ``filename`` alone and are rendered later.
    pid = int(new_pledge(client, staff)["id"])
    assert _api_upload(client, staff, pid, [("合格书.pdf", PDF)]).status_code == 201
    [mail] = _received_mails(session, pid)
    older = {k: v for k, v in mail.context.items() if k != "filenames"}
    assert "合格书.pdf" in render(mail.template, older).text


@pytest.mark.usefixtures("two_files_at_most")
def test_one_file_more_than_allowed_is_refused_through_the_api_and_nothing_is_stored(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pid = int(new_pledge(client, staff)["id"])
    files = [("合格书.pdf", PDF), ("附件一.png", PNG), ("附件二.pdf", ATTACHMENT)]
    r = _api_upload(client, staff, pid, files)
    assert r.status_code == 422, r.text
    assert "文件过多：每次最多上传 2 个文件，本次 3 个" in r.json()["message"]
    assert _rows(session) == []
    assert _submissions(session, pid) == []
    assert _received_mails(session, pid) == []


def test_a_bad_type_among_the_files_refuses_the_whole_submission_before_any_file_is_written(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pid = int(new_pledge(client, staff)["id"])
    r = _api_upload(client, staff, pid, [("合格书.pdf", PDF), ("setup.pdf", b"MZ\x90\x00 not a pdf")])
    assert r.status_code == 422, r.text
    assert "类型不受支持" in r.json()["message"]
    assert _rows(session) == []
    assert _submissions(session, pid) == []
    assert not file_path(hashlib.sha256(PDF).hexdigest()).exists()


def test_the_pledgor_hands_in_two_files_on_its_page_and_the_confirmation_names_both(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pledge = new_pledge(client, staff)
    form = client.get(f"/pledges/evidence?number={pledge['number']}").text
    assert 'name="file" type="file" multiple' in form
    assert "可多选" in form
    r = _pledgor_page_upload(client, pledge, [("合格书.pdf", PDF), ("附件一.png", PNG)])
    assert r.status_code == 201, r.text
    assert "材料“合格书.pdf”、“附件一.png”（共 2 个文件）已提交" in r.text
    assert [row.filename for row in _rows(session)] == ["合格书.pdf", "附件一.png"]
    assert len(_submissions(session, int(pledge["id"]))) == 1
    assert len(_received_mails(session, int(pledge["id"]))) == 1


def test_the_pledgor_hands_in_two_files_through_the_public_api_in_one_submission(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pledge = new_pledge(client, staff)
    r = client.post(
        f"/api/v1/public/pledges/{pledge['number']}/evidence",
        data={"access_code": pledge["access_code"]},
        files=[("file", ("合格书.pdf", PDF)), ("file", ("附件一.png", PNG))],
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["filename"] == "合格书.pdf"  # the first file, as a one-file client reads the answer
    assert [f["filename"] for f in body["files"]] == ["合格书.pdf", "附件一.png"]
    assert "sha256" not in body["files"][0]  # what the pledgor sees of a file, as before
    assert len(_submissions(session, int(pledge["id"]))) == 1
    assert len(_received_mails(session, int(pledge["id"]))) == 1


@pytest.mark.usefixtures("two_files_at_most")
def test_too_many_files_on_the_pledgors_page_show_the_refusal_on_the_page_and_store_nothing(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pledge = new_pledge(client, staff)
    files = [("合格书.pdf", PDF), ("附件一.png", PNG), ("附件二.pdf", ATTACHMENT)]
    r = _pledgor_page_upload(client, pledge, files)
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("text/html")
    assert "文件过多：每次最多上传 2 个文件，本次 3 个" in r.text
    assert _rows(session) == []
    assert _submissions(session, int(pledge["id"])) == []


def test_staff_hand_in_two_files_on_the_pledge_page_and_the_page_lists_each(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pid = int(new_pledge(client, staff)["id"])
    page = f"/staff/pledges/{pid}"
    sign_in(client, staff.handler)
    assert 'type="file" name="file" multiple' in client.get(page).text
    data = {"expected_version": version(session, Pledge, pid)}
    files = [("file", ("合格书.pdf", PDF)), ("file", ("附件一.png", PNG))]
    done = post_files(client, f"/staff/pledges/{pid}/evidence", data, files, page=page)
    assert done.status_code == 303, done.text
    shown = client.get(done.headers["location"]).text
    for row in _rows(session):
        assert f'href="/staff/pledges/{pid}/evidence/{row.id}"' in shown
    [event] = _submissions(session, pid)
    assert event.data["filenames"] == ["合格书.pdf", "附件一.png"]
    assert event.data["on_behalf_of_pledgor"] is True

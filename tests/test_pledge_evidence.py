"""Pledge evidence read back by staff, and submitted by the pledgor itself with its access code."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models.audit import CaseEvent
from models.files import file_path
from models.pledge import PledgeEvidence
from tests.conftest import Staff
from tests.test_pledges import CODE, body

PDF = b"%PDF-1.7 pledge evidence"


def new_pledge(client: TestClient, staff: Staff) -> dict[str, str | int]:
    r = client.post("/api/v1/pledges", json=body(deadline="2026-04-30"), headers=staff.auth("intake"))
    assert r.status_code == 201, r.text
    data: dict[str, str | int] = r.json()
    return data


def test_staff_list_and_download_with_a_safe_attachment_name(client: TestClient, staff: Staff) -> None:
    pid = new_pledge(client, staff)["id"]
    up = client.post(
        f"/api/v1/pledges/{pid}/evidence",
        files={"file": ('合格书"\r\nX-Evil: 1.pdf', PDF)},
        headers=staff.auth("handler"),
    )
    assert up.status_code == 201, up.text
    eid = up.json()["evidence"]["id"]
    for who in ("handler", "intake", "supervisor", "admin"):
        listed = client.get(f"/api/v1/pledges/{pid}/evidence", headers=staff.auth(who))
        assert listed.status_code == 200, listed.text
        assert [(e["id"], e["content_type"], e["size"]) for e in listed.json()] == [
            (eid, "application/pdf", len(PDF))
        ]
    response = client.get(f"/api/v1/pledges/{pid}/evidence/{eid}", headers=staff.auth("handler"))
    assert response.status_code == 200
    assert response.content == PDF
    assert response.headers["content-type"] == "application/pdf"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert "\r" not in disposition
    assert "\n" not in disposition
    assert disposition.count('"') == 2  # the stored name's quote cannot close the ASCII name early
    assert "filename*=UTF-8''" in disposition
    assert "%E5%90%88%E6%A0%BC%E4%B9%A6" in disposition  # 合格书, percent-encoded
    # Another department's handler does not learn that the pledge exists.
    assert client.get(f"/api/v1/pledges/{pid}/evidence", headers=staff.auth("handler2")).status_code == 404
    other = client.get(f"/api/v1/pledges/{pid}/evidence/{eid}", headers=staff.auth("handler2"))
    assert other.status_code == 404
    assert (
        client.get(f"/api/v1/pledges/{pid}/evidence/{eid + 1}", headers=staff.auth("admin")).status_code
        == 404
    )
    assert client.get(f"/api/v1/pledges/{pid}/evidence").status_code == 401


def test_altered_file_is_not_served(client: TestClient, staff: Staff, session: Session) -> None:
    pid = new_pledge(client, staff)["id"]
    client.post(
        f"/api/v1/pledges/{pid}/evidence", files={"file": ("a.pdf", PDF)}, headers=staff.auth("intake")
    )
    row = session.exec(select(PledgeEvidence)).one()
    file_path(row.sha256).write_bytes(b"%PDF-1.7 forged")
    response = client.get(f"/api/v1/pledges/{pid}/evidence/{row.id}", headers=staff.auth("supervisor"))
    assert response.status_code == 404
    assert "损坏" in response.json()["message"]


def test_the_same_bytes_handed_in_again_heal_an_altered_stored_file(
    client: TestClient, staff: Staff, session: Session
) -> None:
    # Stored under the hash of its content: the second upload must not trust the altered file there.
    urls = [f"/api/v1/pledges/{new_pledge(client, staff)['id']}/evidence" for _ in range(2)]
    client.post(urls[0], files={"file": ("a.pdf", PDF)}, headers=staff.auth("intake"))
    first = session.exec(select(PledgeEvidence)).one()
    file_path(first.sha256).write_bytes(b"%PDF-1.7 forged")
    again = client.post(urls[1], files={"file": ("b.pdf", PDF)}, headers=staff.auth("intake"))
    assert again.status_code == 201, again.text
    for url, eid in zip(urls, (first.id, again.json()["evidence"]["id"]), strict=True):
        response = client.get(f"{url}/{eid}", headers=staff.auth("supervisor"))
        assert response.status_code == 200, response.text
        assert response.content == PDF
    assert file_path(first.sha256).read_bytes() == PDF


def test_pledgor_submits_with_number_and_access_code(
    client: TestClient, staff: Staff, session: Session
) -> None:
    pledge = new_pledge(client, staff)
    code = str(pledge["access_code"])
    url = f"/api/v1/public/pledges/{pledge['number']}/evidence"
    # The credit code is public (it is on the register): it no longer proves anything.
    by_credit_code = client.post(url, data={"credit_code": CODE}, files={"file": ("a.pdf", PDF)})
    assert by_credit_code.status_code == 422
    wrong_code = client.post(url, data={"access_code": "AAAA-BBBB-CCCC"}, files={"file": ("a.pdf", PDF)})
    assert wrong_code.status_code == 403
    assert "办理码不正确" in wrong_code.json()["message"]
    assert "信用承诺登记告知" in wrong_code.json()["message"]  # says where to find it
    wrong_number = client.post(
        "/api/v1/public/pledges/CN-2026-999999/evidence",
        data={"access_code": code},
        files={"file": ("a.pdf", PDF)},
    )
    assert wrong_number.status_code == 404
    assert session.exec(select(PledgeEvidence)).all() == []

    bad_type = client.post(url, data={"access_code": code}, files={"file": ("a.exe", b"MZ\x90\x00")})
    assert bad_type.status_code == 422
    # Case, dashes and spaces do not matter: the code is read out and typed back.
    typed = code.replace("-", " ").lower()
    ok = client.post(url, data={"access_code": typed}, files={"file": ("履约材料.pdf", PDF)})
    assert ok.status_code == 201, ok.text
    assert ok.json()["filename"] == "履约材料.pdf"
    state = client.get(f"/api/v1/pledges/{pledge['id']}", headers=staff.auth("handler")).json()["state"]
    assert state == "evidence_submitted"
    [event] = session.exec(select(CaseEvent).where(CaseEvent.event == "submit_evidence")).all()
    assert (event.actor_role, event.actor_name) == ("public", "承诺人（自行提交）")
    # Once submitted the lifecycle refuses a second submission until the authority decides.
    again = client.post(url, data={"access_code": code}, files={"file": ("b.pdf", PDF)})
    assert again.status_code == 409

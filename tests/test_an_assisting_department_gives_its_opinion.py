"""An assisting department (协办单位) gives its 协办意见 on the case, on the page or through the API, as
often as it has something to add: the lead is mailed each one, the case page lists them and, beside the
reply form, the assisting departments that gave none. Nobody else may give one, it moves neither the state
nor the deadline, and the complainant's tracking does not show it."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.accounts import create_user
from models.lifecycle import Role
from models.org import UserCreate
from models.outbox import Notification
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaints_api import API, act, events, get, register
from tests.web_support import post_form, sign_in

OPINION = "该项目资金已于2025年12月拨付至主办单位专户，\n支付进度请主办单位核实。"
LATER = "补充：拨付凭证见财政局2025年第118号文。"


def _assisted(client: TestClient, staff: Staff, *assisting: str, signed: bool = True) -> dict[str, Any]:
    """A complaint led by D01 (住建局, verified by its 主管部门 D00) and assisted by ``assisting``."""
    created = register(client, staff)
    cid = created["id"]
    act(client, staff, "intake", cid, "accept")
    codes = list(assisting or ("D02",))
    act(
        client, staff, "intake", cid, "dispatch", lead_department_code="D01", assisting_department_codes=codes
    )
    if signed:
        act(client, staff, "handler", cid, "sign_for")
    return created


def _queued(session: Session, template: str, cid: int) -> list[Notification]:
    session.expire_all()
    stmt = select(Notification).where(Notification.template == template, Notification.case_id == cid)
    return list(session.exec(stmt.order_by(col(Notification.id))).all())


def _offered(client: TestClient, staff: Staff, who: str, cid: int) -> list[str]:
    response = client.get(f"{API}/complaints/{cid}/actions", headers=staff.auth(who))
    assert response.status_code == 200, response.text
    return [a["event"] for a in response.json()]


def test_an_assisting_department_gives_opinions_through_the_api_and_the_lead_is_mailed_each(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _assisted(client, staff)["id"]
    assert _offered(client, staff, "handler2", cid) == ["assist_opinion"]

    act(client, staff, "handler2", cid, "assist_opinion", opinion=OPINION)
    act(client, staff, "handler2", cid, "assist_opinion", opinion=LATER)

    assert events(session, cid)[-2:] == ["assist_opinion", "assist_opinion"]
    first, second = _queued(session, "complaint_assist_opinion", cid)
    assert {first.recipient_email, second.recipient_email} == {"zjj@example.gov.cn"}  # the lead, 住建局
    assert first.context["assisting_department_name"] == "市财政局"
    for row, text in ((first, OPINION), (second, LATER)):
        message = render(row.template, row.context)  # the catalogue's StrictUndefined environment
        for part in (message.text, message.html):
            assert "市财政局" in part
            assert text.splitlines()[0] in part
            assert get(session, cid).number in part
    # Still offered: a later opinion adds to the earlier ones.
    assert _offered(client, staff, "handler2", cid) == ["assist_opinion"]


def test_only_the_assisting_department_may_give_an_opinion_and_only_once_the_lead_signed_for(
    client: TestClient, staff: Staff, session: Session
) -> None:
    waiting = _assisted(client, staff, signed=False)["id"]
    act(client, staff, "handler2", waiting, "assist_opinion", status=409, opinion=OPINION)  # 待签收

    cid = _assisted(client, staff)["id"]
    refused = act(client, staff, "handler", cid, "assist_opinion", status=403, opinion=OPINION)
    assert "协办部门" in refused["message"]
    act(client, staff, "competent", cid, "assist_opinion", status=403, opinion=OPINION)  # the verifier
    act(client, staff, "supervisor", cid, "assist_opinion", status=403, opinion=OPINION)
    _, other = create_user(
        session=session,
        data=UserCreate(
            name="新城区经办人", role=Role.HANDLER, department_code="K01", email="k01@example.gov.cn"
        ),
    )
    session.commit()
    response = client.post(
        f"{API}/complaints/{cid}/actions/assist_opinion",
        json={"opinion": OPINION},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert response.status_code == 404  # not its case at all
    assert "assist_opinion" not in _offered(client, staff, "handler", cid)
    assert "assist_opinion" not in _offered(client, staff, "competent", cid)
    act(client, staff, "handler2", cid, "assist_opinion", status=422, opinion="\u200b ")  # nothing visible
    act(client, staff, "handler2", cid, "assist_opinion", status=422, opinion="意" * 2001)
    assert "assist_opinion" not in events(session, cid)
    assert _queued(session, "complaint_assist_opinion", cid) == []


def test_an_opinion_keeps_the_state_and_deadline_and_checks_the_version_as_other_in_stage_events(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _assisted(client, staff)["id"]
    act(client, staff, "competent", cid, "verify_true")
    before = get(session, cid)
    state, deadline, stage, version = before.state, before.stage_deadline, before.stage_seq, before.version

    act(client, staff, "handler2", cid, "assist_opinion", opinion=OPINION, expected_version=version)

    after = get(session, cid)
    assert (after.state, after.stage_deadline, after.stage_seq) == (state, deadline, stage)
    assert after.version == version + 1
    act(client, staff, "handler2", cid, "assist_opinion", status=409, opinion=LATER, expected_version=version)


def test_the_case_page_takes_the_opinion_lists_it_and_tells_the_lead_who_gave_none_before_replying(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _assisted(client, staff, "D02", "K01")["id"]
    page = f"/staff/complaints/{cid}"
    sign_in(client, staff.handler2)
    shown = client.get(page).text
    assert "当前没有您可以执行的操作" not in shown
    assert f'action="{page}/act/assist_opinion"' in shown
    assert "协办单位尚未报送协办意见" in shown

    done = post_form(client, f"{page}/act/assist_opinion", {"opinion": OPINION}, page=page)
    assert done.status_code == 303, done.text
    act(client, staff, "competent", cid, "verify_untrue", explanation="付款条件尚未成就。")  # 待答复

    sign_in(client, staff.handler)  # the lead
    shown = client.get(page).text
    section = shown.split('id="assist-opinions"')[1].split("</section>")[0]
    assert "市财政局" in section
    assert OPINION.splitlines()[1] in section
    assert "新城区人民政府" not in section
    missing = shown.split('id="opinions-missing"')[1].split("</p>")[0]
    assert "新城区人民政府" in missing
    assert "市财政局" not in missing
    assert shown.index('id="opinions-missing"') < shown.index(f'action="{page}/act/reply"')


def test_the_dispatch_notice_asks_the_assisting_department_for_its_opinion_before_the_reply(
    client: TestClient, staff: Staff, session: Session
) -> None:
    cid = _assisted(client, staff, signed=False)["id"]
    mails = {
        row.recipient_email: render(row.template, row.context)
        for row in _queued(session, "complaint_dispatched", cid)
    }

    for part in (mails["czj@example.gov.cn"].text, mails["czj@example.gov.cn"].html):
        assert "报送协办意见" in part
        assert "答复投诉人之前" in part
    for part in (mails["zjj@example.gov.cn"].text, mails["zjj@example.gov.cn"].html):
        assert "协办意见" not in part


def test_the_complainants_tracking_does_not_show_an_opinion(
    client: TestClient, staff: Staff, session: Session
) -> None:
    created = _assisted(client, staff)
    act(client, staff, "handler2", created["id"], "assist_opinion", opinion=OPINION)
    assert "assist_opinion" in events(session, created["id"])

    good = {"number": created["number"], "password": created["tracking_password"]}
    tracked = client.post(f"{API}/public/complaints/track", json=good)

    assert tracked.status_code == 200, tracked.text
    labels = [step["label"] for step in tracked.json()["steps"]]
    assert "签收" in labels
    assert not [label for label in labels if "协办" in label]
    assert "拨付" not in tracked.text


def test_the_work_queue_offers_the_opinion_to_the_assisting_departments_handlers(
    client: TestClient, staff: Staff
) -> None:
    cid = _assisted(client, staff)["id"]

    tasks = client.get(f"{API}/tasks", headers=staff.auth("handler2")).json()

    assert [(t["id"], t["actions"]) for t in tasks if t["kind"] == "complaint"] == [(cid, ["assist_opinion"])]


def test_an_opinion_given_takes_the_case_off_the_assisting_departments_queue(
    client: TestClient, session: Session, staff: Staff
) -> None:
    cid = _assisted(client, staff)["id"]

    def queued() -> list[int]:
        tasks = client.get(f"{API}/tasks", headers=staff.auth("handler2")).json()
        return [t["id"] for t in tasks if t["kind"] == "complaint"]

    assert queued() == [cid]
    act(client, staff, "handler2", cid, "assist_opinion", opinion=OPINION)
    assert queued() == []
    # The case still takes a further opinion.
    assert "assist_opinion" in _offered(client, staff, "handler2", cid)
    act(client, staff, "handler2", cid, "assist_opinion", opinion=LATER)

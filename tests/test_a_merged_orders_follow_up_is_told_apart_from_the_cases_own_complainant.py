"""A follow-up of a 12345 order merged (并单) into another case is recorded on that case, and everyone who
reads it there can tell it came from the merged order's caller, not the case's own complainant: the case
page's timeline names the order, the merged case it came through and its attachments; the merged order's
own page lists where its later calls went; and the mail to a paused case does not ask for a resumption on
material its own complainant never sent."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models.outbox import Notification
from notifications.render import render
from tests.conftest import Staff
from tests.test_complaints_api import act
from tests.test_hotline_intake import new_hotline_token
from tests.test_what_12345_forwards_after_an_order_reaches_the_case import SUPPLEMENT, follow, order
from tests.web_support import sign_in

FIRST, SECOND = "GD2026031600001", "GD2026031600002"


def _merged_and_paused(
    client: TestClient, staff: Staff, token: str
) -> tuple[dict[str, object], dict[str, object]]:
    first = order(client, token, FIRST)
    second = order(client, token, SECOND)
    act(client, staff, "intake", second["id"], "merge", target_number=first["number"])
    act(client, staff, "intake", first["id"], "accept")
    act(client, staff, "intake", first["id"], "dispatch", lead_department_code="D01")
    act(client, staff, "handler", first["id"], "sign_for")
    act(client, staff, "handler", first["id"], "await_complainant", reason="请补充结算单")
    return first, second


def test_the_case_page_names_the_order_the_merged_case_and_the_attachments_of_a_follow_up(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first, second = _merged_and_paused(client, staff, token)
    own = follow(client, token, FIRST, follow_up_id="BC-OWN", attachments=["本案投诉人结算单.pdf"])
    assert own.status_code == 201, own.text
    merged = follow(client, token, SECOND)
    assert merged.status_code == 201, merged.text

    sign_in(client, staff.intake)
    page = client.get(f"/staff/complaints/{first['id']}").text
    timeline = page[page.index('id="timeline"') :]
    entries = timeline.split('<li><span class="when">')
    [from_merged] = [e for e in entries if f'<span class="order-id">{SECOND}</span>' in e]
    assert (
        f'<a href="/staff/complaints/{second["id"]}">{second["number"]}</a> 的来电人（不是本案投诉人）'
        in from_merged
    )
    assert "结算单扫描件.pdf" in from_merged
    [from_own] = [e for e in entries if f'<span class="order-id">{FIRST}</span>' in e]
    assert "不是本案投诉人" not in from_own
    assert "本案投诉人结算单.pdf" in from_own

    # The merged order's own page says where its caller's supplement went.
    page = client.get(f"/staff/complaints/{second['id']}").text
    forwarded = page[page.index('id="forwarded-follow-ups"') :]
    assert "12345 转来补充材料" in forwarded
    assert f'记入投诉 <a href="/staff/complaints/{first["id"]}">{first["number"]}</a>' in forwarded
    assert SUPPLEMENT["content"] in forwarded
    assert "结算单扫描件.pdf" in forwarded
    # The handling case's own page lists none of its own follow-ups as forwarded elsewhere.
    assert 'id="forwarded-follow-ups"' not in client.get(f"/staff/complaints/{first['id']}").text


def test_the_mail_of_a_merged_orders_supplement_to_a_paused_case_does_not_ask_to_resume_on_it(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first, second = _merged_and_paused(client, staff, token)
    assert follow(client, token, SECOND).status_code == 201
    assert follow(client, token, FIRST, follow_up_id="BC-OWN").status_code == 201

    session.expire_all()
    rows = session.exec(
        select(Notification)
        .where(Notification.template == "hotline_follow_up")
        .order_by(col(Notification.id))
    ).all()
    merged, own = (render("hotline_follow_up", n.context) for n in rows)
    for part in (merged.text, merged.html):
        assert f"并入本案的投诉 {second['number']} 的来电人" in part
        assert "本次来电人不是本案投诉人，未被要求补充" in part
        assert "所需材料已补充齐全的" not in part
    for part in (own.text, own.html):
        assert "并入本案的投诉" not in part
        assert "所需材料已补充齐全的，请“恢复办理”" in part

    answer = follow(client, token, SECOND).json()  # a resend: the answer the first had
    assert "该案正暂停计时，等待该案投诉人补充材料" in answer["message"]


def test_a_merged_orders_withdrawal_is_its_own_and_the_case_it_left_shows_it(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first, second = _merged_and_paused(client, staff, token)
    withdrawn = follow(
        client,
        token,
        SECOND,
        follow_up_id="BC-W",
        kind="withdrawal",
        content="欠款已付清，撤回投诉。",
        attachments=[],
    )
    assert withdrawn.status_code == 201, withdrawn.text

    sign_in(client, staff.intake)
    own = client.get(f"/staff/complaints/{second['id']}").text
    own_timeline = own[own.index('id="timeline"') :]
    # On its own page the caller is the complainant: no "not this case's complainant", no link to itself.
    assert "不是本案投诉人" not in own_timeline
    assert f'<a href="/staff/complaints/{second["id"]}">' not in own_timeline
    # The case it left records it: staff there see one of its complainants has gone.
    left = client.get(f"/staff/complaints/{first['id']}").text
    left_timeline = left[left.index('id="timeline"') :]
    assert "并入的投诉已撤回" in left_timeline
    assert f"并入本案的投诉 {second['number']} 已由投诉人撤回" in left_timeline


def test_a_clerks_withdrawal_of_a_merged_complaint_is_recorded_on_the_case_it_left(
    client: TestClient, session: Session, staff: Staff
) -> None:
    token = new_hotline_token(session)
    first, second = _merged_and_paused(client, staff, token)
    act(client, staff, "intake", second["id"], "withdraw", reason="投诉人来电撤回")
    sign_in(client, staff.intake)
    left = client.get(f"/staff/complaints/{first['id']}").text
    assert f"并入本案的投诉 {second['number']} 已由投诉人撤回，本案不再向其答复、回访" in left

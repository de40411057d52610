"""A complaint's whole day on the pages, in headless Chromium at 1280×800 and at 390×844 (each test runs at
both sizes): the 12345 intake staff register a call, review it and dispatch it or refuse it; the department
handler signs for it; the competent department (主管部门, 发改委 in the demo city) verifies it and orders
rectification with its requirements; the handler reports the rectification and, once the supervisor has
accepted it, replies; the complainant then tracks the case with number + password and reads the reply and
the handling department. The server runs on `make run`'s demo data, signed in with the demo tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlmodel import Session

from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    SIZES,
    Live,
    Pages,
    act,
    api,
    browser_fixture,
    fresh_engine,
    pages_fixture,
    running,
    seed_demo_data,
    shoot,
)

ZJJ = "示范市住房和城乡建设局"
FGW = "示范市发展和改革委员会"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "complaint-day")
    with Session(engine) as session:
        tokens, _ = seed_demo_data(session)
    with running(engine, tokens) as served:
        yield served


def _dispatched(live: Live, summary: str) -> tuple[int, str, str]:
    """A complaint registered, accepted and dispatched to 住建局 through the API, as the intake staff's
    test does on the pages; returns its id, number and tracking password."""
    with api(live, "intake") as client:
        created = client.post(
            "/complaints",
            json={
                "channel": "hotline",
                "complainant_name": "示范机电安装有限公司",
                "complainant_phone": "13600136000",
                "category": "sme_arrears",
                "respondent_department_code": "ZJJ",
                "summary": summary,
                "description": "合同约定竣工后 60 日内付清，至今未付。",
            },
        )
        assert created.status_code == 201, created.text
        case = created.json()
        for action, body in (("accept", {}), ("dispatch", {"lead_department_code": "ZJJ"})):
            done = client.post(f"/complaints/{case['id']}/actions/{action}", json=body)
            assert done.status_code == 200, done.text
    return case["id"], case["number"], case["tracking_password"]


@pytest.mark.parametrize("size", SIZES)
def test_intake_registers_a_12345_call_then_accepts_and_dispatches_it_or_refuses_it(
    pages: Pages, live: Live, size: str
) -> None:
    intake = pages("intake", size=size)
    assert "受理人员" in intake.locator("main").inner_text()
    intake.click("text=登记投诉")
    # A call taken by the 12345 intake staff: the channel is already 12345.
    assert intake.locator("select[name=channel] option:checked").inner_text() == "12345热线"
    intake.click("button:has-text('登记')")
    assert "必填项未填写" in intake.locator("main").inner_text()
    shoot(intake, "day-intake-01-form-errors")
    intake.select_option("select[name=category]", "sme_arrears")
    intake.fill("input[name=complainant_name]", "示范幕墙工程有限公司")
    intake.fill("input[name=complainant_phone]", "13500135000")
    intake.select_option("select[name=respondent_department_code]", "ZJJ")
    intake.fill("input[name=amount]", "860000")
    intake.fill("input[name=summary]", "市住建局拖欠安置房幕墙工程款")
    intake.fill("textarea[name=description]", "2025年12月验收合格，尾款86万元至今未付。")
    intake.click("button:has-text('登记')")
    number = intake.locator("#number").inner_text()
    assert intake.locator("#password").inner_text()
    shoot(intake, "day-intake-02-registered")

    intake.click("text=打开案件")
    assert intake.locator("#state").inner_text() == "已登记（待初审）"
    assert "12345热线" in intake.locator("main").inner_text()
    act(intake, "accept")
    assert intake.locator("#state").inner_text() == "已受理（待派单）"
    act(intake, "dispatch", lead_department_code="ZJJ")
    assert intake.locator("#state").inner_text() == "已派单（待签收）"
    assert f"待{ZJJ}退单或签收" in intake.locator("#next-actor").inner_text()
    assert "签收" in intake.locator("#deadline").inner_text()
    shoot(intake, "day-intake-03-dispatched")

    # A call about a matter outside the scheme is refused, with the channel it belongs to.
    intake.click("nav >> text=工作台")
    assert number in intake.locator("main").inner_text()
    intake.click("text=登记投诉")
    intake.select_option("select[name=category]", "other")
    intake.fill("input[name=complainant_name]", "李某")
    intake.fill("input[name=complainant_phone]", "13400134000")
    intake.fill("input[name=summary]", "邻里噪音纠纷请求调解")
    intake.click("button:has-text('登记')")
    intake.click("text=打开案件")
    reject = intake.locator('form[action$="/act/reject"]')
    intake.locator('details:has(form[action$="/act/reject"]) summary').click()
    reject.locator("button[type=submit]").click()
    assert intake.locator(".field-error").count() >= 1  # no reason given: the field says so
    act(
        intake,
        "reject",
        reason="不属于政府违约失信投诉范围",
        route="other",
        route_detail="向所在街道人民调解委员会申请调解",
    )
    assert intake.locator("#state").inner_text() == "不予受理"
    shoot(intake, "day-intake-04-refused")


@pytest.mark.parametrize("size", SIZES)
def test_handler_and_competent_department_carry_a_case_from_signing_to_the_reply_the_complainant_reads(
    pages: Pages, live: Live, size: str
) -> None:
    complaint_id, number, password = _dispatched(live, f"市住建局拖欠机电安装工程款（{size}）")
    case_url = f"{live.url}/staff/complaints/{complaint_id}"

    handler = pages("handler", size=size)
    assert number in handler.locator("#queue").inner_text()
    shoot(handler, "day-handler-01-queue")
    handler.click(f"#queue >> text={number}")
    assert handler.locator("#state").inner_text() == "已派单（待签收）"
    act(handler, "sign_for")
    assert handler.locator("#state").inner_text() == "已签收（核实中）"
    # Verification is the competent department's: the handler's page says who acts next.
    assert f"待{FGW}核实" in handler.locator("#next-actor").inner_text()
    shoot(handler, "day-handler-02-signed")

    competent = pages("competent", size=size)
    competent.goto(case_url)
    act(competent, "verify_true")
    assert competent.locator("#state").inner_text() == "核实属实（待责令整改）"
    # An order to rectify must say what to do.
    competent.locator('details:has(form[action$="/act/order_rectification"]) summary').click()
    competent.locator('form[action$="/act/order_rectification"] button[type=submit]').click()
    assert "整改要求" in competent.locator("main").inner_text()
    assert competent.locator("#state").inner_text() == "核实属实（待责令整改）"
    act(competent, "order_rectification", requirements="十五个工作日内按合同付清工程款并报送付款凭证")
    assert competent.locator("#state").inner_text() == "整改中"
    assert "十五个工作日内按合同付清工程款" in competent.locator("#timeline").inner_text()
    shoot(competent, "day-competent-01-rectification-ordered")

    handler.goto(case_url)
    act(handler, "report_rectification", evidence="已于本周付清全部工程款，银行回单编号 HD-2026-0311。")
    assert handler.locator("#state").inner_text() == "整改已报告（待审核）"
    with api(live, "supervisor") as client:
        accepted = client.post(f"/complaints/{complaint_id}/actions/accept_rectification", json={})
        assert accepted.status_code == 200, accepted.text
    handler.reload()
    act(handler, "reply", reply_text="经核实，拖欠的工程款已全部付清，请查收。")
    assert handler.locator("#state").inner_text() == "已答复（待回访）"
    shoot(handler, "day-handler-03-replied")

    # The complainant tracks the case: the reply and who handled it, never staff or complainant names.
    public = pages(size=size)
    public.goto(f"{live.url}/track")
    public.fill("input[name=number]", number)
    public.fill("input[name=password]", password.lower().replace("-", ""))
    public.click("button:has-text('查询')")
    tracking = public.locator("#tracking").inner_text()
    assert "已答复（待回访）" in tracking
    assert f"办理部门：{ZJJ}" in tracking
    assert "拖欠的工程款已全部付清" in public.locator("#reply").inner_text()
    assert "住建局经办人" not in tracking
    shoot(public, "day-public-01-tracking")
    public.fill("input[name=number]", number)
    public.fill("input[name=password]", "WRONG-PASS-WORD")
    public.click("button:has-text('查询')")
    error = public.locator(".alert.error").inner_text()
    assert "密码" in error
    assert not re.search(r"[a-z]{3,}", error), error  # Chinese only: no English words in parentheses

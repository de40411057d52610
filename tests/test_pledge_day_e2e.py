"""The pledge and breach side of the day on the pages, in headless Chromium at 1280×800 and 390×844: the
pledgor looks up its pledge with number + access code; the public reads the register, lodges an objection
(seeing the reply deadline first and the acknowledgement after) and a credit repair request; the department
handler confirms one pledge's evidence and returns another's with a reason, rejects the objection and grants
the repair. On `make run`'s demo data, signed in with the demo tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlmodel import Session

from tests.web_support import (  # noqa: F401  (browser_fixture, pages_fixture: the fixtures)
    SIZES,
    Live,
    Pages,
    Published,
    act,
    api,
    browser_fixture,
    fresh_engine,
    pages_fixture,
    publish_old_pledge,
    running,
    seed_demo_data,
    shoot,
)

ZJJ = "示范市住房和城乡建设局"
PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
# One published record per test run and size: an objection or repair can be lodged once per record.
SUBJECTS = {
    "desktop": ("示范市政绿化工程有限公司", "91110000MA01QRTU5"),
    "phone": ("示范园艺景观工程有限公司", "91110000MA01WXYB6"),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    engine = fresh_engine(tmp_path_factory, "pledge-day")
    with Session(engine) as session:
        tokens, _ = seed_demo_data(session)
    records = {
        size: publish_old_pledge(engine, name=name, credit_body17=body)
        for size, (name, body) in SUBJECTS.items()
    }
    with running(engine, tokens, records=records) as served:
        yield served


def _pledge_with_evidence(live: Live, pledgor: str) -> dict[str, str]:
    """A pledge of 住建局 whose pledgor handed in a PDF (through the staff API): it awaits review."""
    with api(live, "handler") as client:
        created = client.post(
            "/pledges",
            json={
                "pledgor_kind": "individual",
                "pledgor_name": pledgor,
                "matter": "建筑工程施工许可证",
                "obligation": "施工图审查合格书",
                "deadline": "2026-04-30",
                "authority_code": "ZJJ",
                "legal_basis": "《建筑法》第八条",
            },
        )
        assert created.status_code == 201, created.text
        pledge = created.json()
        uploaded = client.post(
            f"/pledges/{pledge['id']}/evidence",
            files={"file": ("施工图审查合格书.pdf", PDF, "application/pdf")},
        )
        assert uploaded.status_code == 201, uploaded.text
    return pledge


@pytest.mark.parametrize("size", SIZES)
def test_the_public_reads_the_register_objects_asks_for_repair_and_looks_up_a_pledge(
    pages: Pages, live: Live, size: str
) -> None:
    record: Published = live.facts["records"][size]
    name = SUBJECTS[size][0]
    public = pages(size=size)
    public.goto(f"{live.url}/register")
    public.fill("input[name=q]", name)
    public.click("button:has-text('查询')")
    assert record.record_number in public.locator("#register").inner_text()
    shoot(public, "day-public-02-register")
    public.click(f"#register >> text={record.record_number}")
    facts = public.locator("#record").inner_text()
    assert name in facts
    assert ZJJ in facts
    assert "公示中" in facts

    # The objection form says by when the department replies before anything is filled in.
    public.click("text=对本记录提出异议")
    assert re.search(
        r"5 个工作日内（\d{4}年\d{1,2}月\d{1,2}日前）答复", public.locator("#reply-due").inner_text()
    )
    assert re.fullmatch(
        r"\d{4}-\d{2}-\d{2}", public.locator("#reply-due time").get_attribute("datetime") or ""
    )
    shoot(public, "day-public-03-objection-form")
    public.click("button:has-text('提交异议')")
    assert public.locator(".alert.error").count() == 1  # nothing filled in: refused, in Chinese
    public.fill("input[name=access_code]", "ABCD-EFGH-JKMN")
    public.fill("textarea[name=reason]", "安全生产许可证已于期限内寄出，附邮寄凭证。")
    public.click("button:has-text('提交异议')")
    error = public.locator(".alert.error").inner_text()
    assert "办理码" in error
    assert not re.search(r"[a-z]{3,}", error), error  # Chinese only: no English words in parentheses
    public.fill("input[name=access_code]", record.access_code.lower())
    public.fill("textarea[name=reason]", "安全生产许可证已于期限内寄出，附邮寄凭证。")
    public.click("button:has-text('提交异议')")
    assert "异议已提交" in public.locator(".alert.ok").inner_text()
    assert "异议处理中" in public.locator("#record").inner_text()
    assert public.locator("text=对本记录提出异议").count() == 0  # not again while it is being decided
    shoot(public, "day-public-04-objection-acknowledged")

    # The pledgor looks its pledge up with number + access code.
    public.goto(f"{live.url}/pledges/status")
    public.fill("input[name=number]", record.pledge_number)
    public.fill("input[name=access_code]", record.access_code)
    public.click("button:has-text('查询')")
    status = public.locator("#pledge-status").inner_text()
    assert "已公示失信" in status
    assert ZJJ in status
    assert record.record_number in status
    assert "异议处理中" in status
    shoot(public, "day-public-05-pledge-status")


@pytest.mark.parametrize("size", SIZES)
def test_handler_confirms_and_returns_evidence_and_decides_an_objection_and_a_repair(
    pages: Pages, live: Live, size: str
) -> None:
    confirmed = _pledge_with_evidence(live, f"王履约（{size}）")
    returned = _pledge_with_evidence(live, f"赵补正（{size}）")
    record: Published = live.facts["records"][size]
    with api(live) as public:
        objected = public.post(
            f"/public/breaches/{record.record_number}/objection",
            json={"access_code": record.access_code, "reason": "许可证已按期寄出", "evidence": "EMS 1180000"},
        )
        assert objected.status_code in (201, 409), objected.text  # 409: the public's test lodged it first

    # One work queue: the evidence reviews and the objection sit there with the complaints, each a door.
    handler = pages("handler", size=size)
    queue = handler.locator("#queue").inner_text()
    for number in (confirmed["number"], returned["number"], record.record_number):
        assert number in queue
    handler.click("nav >> text=告知承诺")
    pledges = handler.locator("#pledges").inner_text()
    assert confirmed["number"] in pledges
    assert returned["number"] in pledges
    shoot(handler, "day-handler-04-pledges")
    handler.click("nav >> text=工作台")
    handler.click(f"#queue >> text={confirmed['number']}")
    assert handler.locator("#state").inner_text() == "已提交材料（待核查）"
    assert "施工图审查合格书.pdf" in handler.locator("#evidence").inner_text()
    act(handler, "confirm")
    assert handler.locator("#state").inner_text().startswith("已履约")
    shoot(handler, "day-handler-05-pledge-confirmed")

    handler.goto(f"{live.url}/staff/pledges/{returned['id']}")
    handler.locator('details:has(form[action$="/act/reject_evidence"]) summary').click()
    handler.locator('form[action$="/act/reject_evidence"] button[type=submit]').click()
    assert handler.locator(".alert.error, .field-error").count() >= 1  # a return names its reason
    assert handler.locator("#state").inner_text() == "已提交材料（待核查）"
    act(handler, "reject_evidence", reason="合格书未加盖审查机构公章，请补正后重新提交")
    assert handler.locator("#state").inner_text() == "待履约"
    assert "未加盖审查机构公章" in handler.locator("#timeline").inner_text()

    # The objection: the handler reads the reason and the deadline, and rejects it with reasons.
    handler.click("nav >> text=失信记录")
    assert "异议处理中" in handler.locator("#breaches tr", has_text=record.record_number).inner_text()
    shoot(handler, "day-handler-06-breaches")
    handler.click("nav >> text=工作台")
    handler.click(f"#queue >> text={record.record_number}")
    assert handler.locator("#state").inner_text() == "异议处理中"
    assert "寄出" in handler.locator("#request-reason").inner_text()
    assert re.search(r"\d{4}-\d{2}-\d{2}", handler.locator("#deadline").inner_text())
    shoot(handler, "day-handler-07-objection")
    act(handler, "reject_objection", reason="邮寄凭证显示寄出日期晚于承诺期限，异议不成立")
    assert handler.locator("#state").inner_text() == "公示中"

    # Then the subject asks for credit repair on the public page, and the handler grants it.
    public = pages(size=size)
    public.goto(f"{live.url}/register/{record.record_number}/repair")
    assert "现在可以申请信用修复" in public.locator("#repair-earliest").inner_text()
    public.fill("input[name=access_code]", record.access_code)
    public.fill("textarea[name=statement]", "已补交安全生产许可证并完成整改。")
    public.fill("textarea[name=repair_pledge]", "本单位承诺今后严格履行告知承诺。")
    public.click("button:has-text('提交信用修复申请')")
    assert "信用修复申请已提交" in public.locator(".alert.ok").inner_text()
    shoot(public, "day-public-06-repair-requested")
    handler.reload()
    assert handler.locator("#state").inner_text() == "信用修复申请中"
    assert "已补交安全生产许可证" in handler.locator("#request-reason").inner_text()
    act(handler, "approve_repair", reason="已纠正失信行为并作出信用修复承诺，准予修复")
    assert handler.locator("#state").inner_text() == "已信用修复"
    shoot(handler, "day-handler-08-repaired")

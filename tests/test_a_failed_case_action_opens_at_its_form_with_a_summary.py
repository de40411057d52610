"""A case action sent with a required field empty answers the case page opened at that action's form: a
summary at the top names each field to correct (linked to it) with its message, the form's panel is open
and its first field to correct has the focus. Required fields are marked as the pledge forms mark them,
and the forms' shared summary (errors_summary) names fields wherever the page gives their labels."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Staff
from tests.test_a_reply_nobody_received_is_flagged_on_the_case_page import _verified_untrue
from tests.test_case_page_choices_with_consequences_must_be_made import form_of
from tests.test_complaints_api import act, dispatched_and_signed, register
from tests.web_support import post_form, sign_in
from web.core import env

REQ = '<span class="req">*</span>'


def _summary(page: str) -> str:
    assert 'id="errors-summary"' in page, page
    return page.split('id="errors-summary"', 1)[1].split("</div>", 1)[0]


def test_an_empty_explanation_names_its_field_at_the_top_and_focuses_it(
    client: TestClient, staff: Staff
) -> None:
    cid = dispatched_and_signed(client, staff)
    sign_in(client, staff.competent)
    page = f"/staff/complaints/{cid}"
    refused = post_form(client, f"{page}/act/verify_untrue", {"explanation": ""}, page=page)
    assert refused.status_code == 422, refused.text
    summary = _summary(refused.text)
    assert "核实不属实" in summary  # the action that failed
    assert '<a href="#verify_untrue-explanation">核实不属实的说明</a>：' in summary
    # The summary comes before the case's facts, and the form it points to is open with the field focused.
    assert refused.text.index('id="errors-summary"') < refused.text.index("案件信息")
    assert re.search(r'<details class="action" id="act-verify_untrue" open>', refused.text)
    form = form_of(refused.text, cid, "verify_untrue")
    textarea = form.split("<textarea", 1)[1].split(">", 1)[0]
    assert 'id="verify_untrue-explanation"' in textarea
    assert "autofocus" in textarea
    assert 'aria-invalid="true"' in textarea
    assert f"核实不属实的说明{REQ}" in form


def test_an_empty_reply_names_its_field_at_the_top(client: TestClient, staff: Staff) -> None:
    cid = _verified_untrue(client, staff)
    sign_in(client, staff.handler)
    page = f"/staff/complaints/{cid}"
    refused = post_form(client, f"{page}/act/reply", {"reply_text": ""}, page=page)
    assert refused.status_code == 422, refused.text
    assert '<a href="#reply-reply_text">答复内容</a>：' in _summary(refused.text)
    assert (
        "autofocus" in form_of(refused.text, cid, "reply").split('name="reply_text"', 1)[1].split(">", 1)[0]
    )


def test_required_fields_of_the_case_forms_are_marked(client: TestClient, staff: Staff) -> None:
    cid = register(client, staff)["id"]
    sign_in(client, staff.intake)
    page = client.get(f"/staff/complaints/{cid}").text
    assert f"不予受理的理由（将告知投诉人）{REQ}" in form_of(page, cid, "reject")
    assert f"投诉人撤回的理由{REQ}" in form_of(page, cid, "withdraw")
    assert f"需投诉人补充的内容（将告知投诉人）{REQ}" in form_of(page, cid, "await_complainant")
    # Optional fields carry no marker.
    assert f"其他渠道说明{REQ}" not in form_of(page, cid, "reject")
    assert f"备注{REQ}" not in form_of(page, cid, "reject")
    act(client, staff, "intake", cid, "accept")
    dispatch = form_of(client.get(f"/staff/complaints/{cid}").text, cid, "dispatch")
    assert f"主办部门{REQ}" in dispatch
    assert "协办部门（可多选" in dispatch
    assert f"按住 Ctrl 或 ⌘ 选择多个）{REQ}" not in dispatch


def test_the_shared_summary_names_the_fields_it_is_given_labels_for() -> None:
    macro = env.from_string('{% from "_macros.html" import errors_summary %}{{ errors_summary(e, labels) }}')
    errors = {"summary": "必填项未填写", "complainant_phone": "电话与邮箱至少填一项"}
    html = macro.render(e=errors, labels={"summary": "投诉摘要", "complainant_phone": "联系电话"})
    assert "提交的内容有 2 处需要修改" in html
    assert '<a href="#field-summary">投诉摘要</a>：必填项未填写' in html
    assert '<a href="#field-complainant_phone">联系电话</a>：电话与邮箱至少填一项' in html
    # Without labels each message still links to its field; a message about the whole form stays as it was.
    bare = env.from_string('{% from "_macros.html" import errors_summary %}{{ errors_summary(e) }}')
    assert '<a href="#field-summary">必填项未填写</a>' in bare.render(e=errors)
    assert (
        bare.render(e={"__all__": "请刷新页面"}).strip()
        == '<div class="alert error" role="alert">请刷新页面</div>'
    )
    field = env.from_string(
        '{% from "_macros.html" import field %}{{ field("summary", "投诉摘要", {}, {}) }}'
    )
    assert 'id="field-summary"' in field.render()

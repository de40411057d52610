"""Each reason a pledge page asks for says where it goes: a false-pledge finding's is published word for
word as the record's 失信事实 (the register and the credit platform), so it must hold no personal data nor
internal notes; a rejection's and a cancellation's go to the pledgor; a re-issue's and a chase's stay in
the case's timeline."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Staff
from tests.test_staff_pledge_pages import with_evidence
from tests.web_support import sign_in


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def form_text(html: str, action: str) -> str:
    found = re.search(rf'<form[^>]*action="[^"]*/act/{action}".*?</form>', html, re.S)
    assert found, action
    return text_of(found.group(0))


def test_every_pledge_reason_says_who_reads_it(client: TestClient, staff: Staff) -> None:
    created, _ = with_evidence(client, staff)
    sign_in(client, staff.supervisor)  # offered every action that asks for a reason
    html = client.get(f"/staff/pledges/{created['id']}").text

    published = form_text(html, "confirm_false")
    for told in ("失信事实", "失信信息公示", "信用平台", "个人信息", "内部备注"):
        assert told in published, (told, published)
    for action in ("reject_evidence", "cancel"):
        assert "告知承诺人" in form_text(html, action), action
    told = form_text(html, "reissue_access_code")
    assert "仅记入办理过程" in told, told
    assert "不发给承诺人" in told, told
    # A chase's note goes out with its notice (models/pledges/review.py ``_notify``): never "timeline only".
    for action in ("review_remind", "review_supervise", "review_escalate"):
        told = form_text(html, action)
        assert "发给审批部门" in told, (action, told)
        assert "内部意见请勿填写" in told, (action, told)
        assert "仅记入办理过程" not in told, (action, told)

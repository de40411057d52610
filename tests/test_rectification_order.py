"""An order to rectify names what must be done: without its requirements text it is refused (issue 15)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.conftest import Staff
from tests.test_complaints_api import API, act, dispatched_and_signed


def test_an_order_to_rectify_without_requirements_is_refused_naming_the_field(
    client: TestClient, staff: Staff
) -> None:
    cid = dispatched_and_signed(client, staff)
    act(client, staff, "competent", cid, "verify_true")
    for body in ({}, {"requirements": "  \u200b "}):
        refused = client.post(
            f"{API}/complaints/{cid}/actions/order_rectification", json=body, headers=staff.auth("competent")
        )
        assert refused.status_code == 422, refused.text
        assert [f["field"] for f in refused.json()["fields"]] == ["requirements"]
    ordered = act(
        client, staff, "competent", cid, "order_rectification", requirements="按合同约定支付剩余工程款"
    )
    assert ordered["state"] == "rectifying"

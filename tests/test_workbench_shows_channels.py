"""The intake clerk's workbench mixes complaints from 12345, the window and the credit website column: each
queue row says its channel, and a queue longer than the page shows says so."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.conftest import Staff
from tests.test_complaints_api import register
from tests.test_online_complaint_submission import FORM, PAGE
from tests.web_support import post_form, sign_in
from web import staff as staff_pages


def test_each_queue_row_names_its_channel(client: TestClient, staff: Staff) -> None:
    assert post_form(client, PAGE, FORM).status_code == 201  # online, 信用网站专栏
    register(client, staff)  # by the API, on the body's channel
    sign_in(client, staff.intake)
    page = client.get("/staff").text
    queue = page.split('id="queue"')[1].split("</table>")[0]
    assert '<td data-label="渠道">信用网站专栏</td>' in queue
    assert len(re.findall(r'<td data-label="渠道">', queue)) == 2
    assert client.get("/api/v1/tasks", headers=staff.auth("intake")).json()[0]["channel"] in (
        "website", "hotline", "window",
    )  # fmt: skip


def test_a_queue_longer_than_the_page_says_it_shows_only_the_soonest(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(staff_pages, "QUEUE_SHOWN", 2)
    for _ in range(3):
        register(client, staff)
    sign_in(client, staff.intake)
    page = client.get("/staff").text
    assert "待我办理（期限最近的 2 件）" in page
    assert "待办超过 2 件，此处只列期限最近的" in page

"""The case timeline names the Prefect flow run that wrote a system event, linked to the Prefect UI when
SHOUXIN_PREFECT_UI_URL is set, so a supervisor can open the run behind an automatic step."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from models.complaints.screening import screen_batch
from models.settings import get_settings
from models.workflow import Actor
from tests.conftest import Staff
from tests.test_web_pages import _register_complaint
from tests.web_support import sign_in

RUN_ID = "0b7a6c1e-5f3d-4c2a-9e8b-1d2f3a4b5c6d"


def _screened_case(client: TestClient, staff: Staff, session: Session) -> int:
    sign_in(client, staff.intake)
    _, _, case_id = _register_complaint(client)
    assert screen_batch(
        session=session, ids=[case_id], actor=Actor.system(flow_run_id=RUN_ID), today=dt.date(2026, 3, 2)
    )
    return case_id


def test_a_system_event_links_to_its_flow_run_in_the_prefect_ui(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOUXIN_PREFECT_UI_URL", "http://127.0.0.1:4200/")
    get_settings.cache_clear()
    case_id = _screened_case(client, staff, session)
    page = client.get(f"/staff/complaints/{case_id}").text
    timeline = page[page.index('id="timeline"') :]
    assert f'href="http://127.0.0.1:4200/runs/flow-run/{RUN_ID}"' in timeline
    # Only the flow's event carries a run: the registration by a person links nowhere.
    assert timeline.count("流程运行：") == 1


def test_without_a_prefect_ui_the_timeline_shows_the_run_id_unlinked(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHOUXIN_PREFECT_UI_URL", raising=False)
    get_settings.cache_clear()
    case_id = _screened_case(client, staff, session)
    timeline = client.get(f"/staff/complaints/{case_id}").text.split('id="timeline"', 1)[1]
    assert f"<code>{RUN_ID}</code>" in timeline
    assert "/runs/flow-run/" not in timeline

"""A sweep's run is answerable in the Prefect UI: it publishes a table artifact listing the cases it
changed (number, event, from → to), and the deployments carry readable, stable schedules."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models.audit import CaseEvent
from tests.test_publication import new_pledge
from tests.test_publication_flow import cli_db as cli_db_fixture

cli_db = cli_db_fixture  # the fixture, under its name


@pytest.mark.prefect
def test_the_sweep_run_publishes_a_table_of_the_cases_it_changed(
    cli_db: Engine, prefect_harness: None
) -> None:
    from prefect.client.orchestration import get_client

    from flows.publish_breaches import publish_breaches

    with Session(cli_db, expire_on_commit=False) as session:
        pledge = new_pledge(session, dt.date(2026, 2, 12))
    assert publish_breaches(as_of=dt.date(2026, 3, 2))["publish"] == 1
    with Session(cli_db) as session:
        run_id = session.exec(select(CaseEvent).where(CaseEvent.event == "publish")).one().flow_run_id
    assert run_id

    async def artifacts() -> list[dict[str, Any]]:
        # The filter posted by hand: the client's read_artifacts sends nulls the pinned server refuses.
        async with get_client() as client:
            body = {"artifacts": {"flow_run_id": {"any_": [run_id]}}, "limit": 10, "sort": "CREATED_DESC"}
            found: list[dict[str, Any]] = (
                await client.request("POST", "/artifacts/filter", json=body)
            ).json()
            return found

    [artifact] = asyncio.run(artifacts())
    assert (artifact["key"], artifact["type"]) == ("publish-breaches", "table")
    assert "承诺巡检 2026-03-02" in artifact["description"]
    data = artifact["data"]
    rows = data if isinstance(data, list) else json.loads(data)
    published = [r for r in rows if r["编号"] == pledge.number and r["新状态"] == "已公示失信"]
    assert published, rows
    assert published[0]["原状态"] == "已逾期（待公示）"


def test_each_deployment_has_one_named_schedule_in_asia_shanghai() -> None:
    from cli.flows_cmd import deployments
    from flows.registry import BY_NAME

    for deployment in deployments():
        [schedule] = deployment.schedules
        assert schedule.slug == deployment.name  # re-serving updates the schedule, never adds one
        assert schedule.schedule.timezone == "Asia/Shanghai"
    # The digest's flow asks the working-day calendar itself: the cron fires every day, so a make-up
    # working Saturday gets its digest.
    assert BY_NAME["daily_digest"].cron == "30 8 * * *"

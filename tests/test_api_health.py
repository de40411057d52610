import gc

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api.main import create_app
from models.clock import Clock


def test_health_answers_with_today_and_calendar(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["today"] == "2026-03-02"
    assert 2026 in body["calendar_years"]


def test_a_running_api_keeps_what_start_up_built_out_of_full_gc(engine: Engine, clock: Clock) -> None:
    # A full collection that walked the ~200,000 objects of start-up paused every request of the worker
    # (~100 ms, benchmark 3); while the app runs they are frozen, and nothing stays frozen after it stops.
    assert gc.get_freeze_count() == 0
    app = create_app(engine=engine, clock=clock, check_schema=False)
    with TestClient(app) as running:
        assert gc.get_freeze_count() > 10_000
        assert running.get("/api/v1/health").status_code == 200
    assert gc.get_freeze_count() == 0

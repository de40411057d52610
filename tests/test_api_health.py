from fastapi.testclient import TestClient


def test_health_answers_with_today_and_calendar(client: TestClient) -> None:
    r = client.get("/api/v1/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["today"] == "2026-03-02"
    assert 2026 in body["calendar_years"]

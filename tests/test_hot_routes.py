"""The hot routes' one-hop shortcut (api.hot.HotRoute): it serves the plain requests, and every other
request gets FastAPI's own answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

import api.deps
import api.hot
from api.deps import ActorDep, SessionDep
from api.hot import HotRoute
from api.routes import complaints as complaint_routes
from api.routes import tasks as task_routes
from models.accounts import token_identity
from tests.conftest import Staff
from tests.test_complaints_api import API, BODY, register


def _counting(monkeypatch: pytest.MonkeyPatch, module: Any) -> list[str]:
    calls: list[str] = []

    def counted(*, session: Session, token: str) -> Any:
        calls.append(token)
        return token_identity(session=session, token=token)

    monkeypatch.setattr(module, "token_identity", counted)
    return calls


def test_the_busy_routes_are_hot() -> None:
    def hot(router: APIRouter, path: str, method: str) -> bool:
        return any(
            isinstance(r, HotRoute)
            for r in router.routes
            if r.path == path and method in r.methods  # type: ignore[attr-defined]
        )

    assert hot(complaint_routes.router, "/complaints", "POST")
    assert hot(task_routes.router, "/tasks", "GET")
    for action in ("accept", "dispatch", "reject"):
        assert hot(complaint_routes.router, f"/complaints/{{complaint_id}}/actions/{action}", "POST")


def test_plain_requests_take_the_shortcut(
    client: TestClient, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    shortcut = _counting(monkeypatch, api.hot)
    fastapi_path = _counting(monkeypatch, api.deps)
    cid = register(client, staff)["id"]
    assert (
        client.post(
            f"{API}/complaints/{cid}/actions/accept", json={}, headers=staff.auth("intake")
        ).status_code
        == 200
    )
    assert client.get(f"{API}/tasks?limit=50", headers=staff.auth("handler")).status_code == 200
    assert len(shortcut) == 3
    assert fastapi_path == []


def _answer(client: TestClient, request: tuple[str, str, dict[str, Any]]) -> tuple[int, Any, dict[str, str]]:
    method, path, kwargs = request
    response = client.request(method, path, **kwargs)
    headers = {k: v for k, v in response.headers.items() if k != "date"}
    return response.status_code, response.content, headers


def test_other_requests_get_fastapis_own_answers(
    client: TestClient, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = register(client, staff)["id"]
    intake, handler = staff.auth("intake"), staff.auth("handler")
    bad = {"Authorization": "Bearer sx_not_a_token"}
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", f"{API}/complaints", {"json": BODY}),
        ("POST", f"{API}/complaints", {"json": BODY, "headers": bad}),
        ("POST", f"{API}/complaints", {"json": BODY, "headers": {"Authorization": "Basic abc"}}),
        ("POST", f"{API}/complaints", {"json": BODY, "headers": handler}),  # a role refused
        ("POST", f"{API}/complaints", {"json": {**BODY, "channel": "pigeon"}, "headers": intake}),
        ("POST", f"{API}/complaints", {"json": {**BODY, "channel": "pigeon"}, "headers": bad}),
        (
            "POST",
            f"{API}/complaints",
            {"content": b"{not json", "headers": {**intake, "content-type": "application/json"}},
        ),
        (
            "POST",
            f"{API}/complaints",
            {"content": b"{not json", "headers": {**bad, "content-type": "application/json"}},
        ),
        (
            "POST",
            f"{API}/complaints",
            {"content": b"[]", "headers": {**intake, "content-type": "application/json"}},
        ),
        (
            "POST",
            f"{API}/complaints",
            {"content": b"", "headers": {**intake, "content-type": "application/json"}},
        ),
        (
            "POST",
            f"{API}/complaints",
            {"content": b"{}", "headers": {**intake, "content-type": "text/plain"}},
        ),
        ("POST", f"{API}/complaints", {"content": b"{}", "headers": intake}),
        ("GET", f"{API}/tasks?limit=0", {"headers": handler}),
        ("GET", f"{API}/tasks?limit=x", {"headers": bad}),
        ("GET", f"{API}/tasks", {}),
        ("POST", f"{API}/complaints/abc/actions/accept", {"json": {}, "headers": intake}),
        ("POST", f"{API}/complaints/{cid}/actions/accept", {"headers": bad}),
        (
            "POST",
            f"{API}/complaints/{cid}/actions/dispatch",
            {"json": {"lead_department_code": 1}, "headers": intake},
        ),
        (
            "POST",
            f"{API}/complaints/{cid}/actions/dispatch",
            {"json": {}, "headers": intake},
        ),  # 409: not accepted
        ("POST", f"{API}/complaints/999999/actions/accept", {"json": {}, "headers": intake}),  # 404
        (
            "POST",
            f"{API}/complaints/{cid}/actions/accept",
            {"json": {"expected_version": 99}, "headers": intake},
        ),
    ]
    shortcut = [_answer(client, r) for r in requests]
    # Any dependency override sends every request through FastAPI's handler; this one changes nothing else.
    app: FastAPI = client.app  # type: ignore[assignment]
    app.dependency_overrides[api.deps.get_today] = api.deps.get_today
    fastapi_path = _counting(monkeypatch, api.hot)
    try:
        assert [_answer(client, r) for r in requests] == shortcut
    finally:
        app.dependency_overrides.clear()
    assert fastapi_path == []
    assert {status for status, _, _ in shortcut} >= {401, 403, 404, 409, 422}


def _route(endpoint: Callable[..., Any], **kwargs: Any) -> None:
    router = APIRouter()
    router.add_api_route("/x", endpoint, route_class_override=HotRoute, **kwargs)


def test_a_route_the_shortcut_cannot_serve_exactly_is_refused() -> None:
    def extra() -> int:
        return 1

    def with_extra(session: SessionDep, actor: ActorDep, n: int = Depends(extra)) -> None: ...

    def anonymous(session: SessionDep) -> None: ...

    async def coroutine(session: SessionDep, actor: ActorDep) -> None: ...

    def fine(session: SessionDep, actor: ActorDep) -> None: ...

    for endpoint in (with_extra, anonymous, coroutine):
        with pytest.raises(TypeError):
            _route(endpoint)
    _route(fine)
    with pytest.raises(TypeError):
        _route(fine, dependencies=[Depends(extra)])

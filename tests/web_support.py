"""Helpers shared by the page tests: signing in through the real form, and CSRF-carrying posts."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from web.core import CSRF_COOKIE, CSRF_FIELD

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/login") -> str:
    """The CSRF value a page embeds in its forms (and sets as the browser's cookie)."""
    page = client.get(path)
    match = _CSRF.search(page.text)
    assert match, f"no CSRF field on {path}"
    assert client.cookies.get(CSRF_COOKIE) == match.group(1)
    return match.group(1)


def post_form(client: TestClient, path: str, data: dict[str, Any], *, page: str | None = None) -> Any:
    token = csrf_of(client, page or path)
    return client.post(path, data={CSRF_FIELD: token, **data}, follow_redirects=False)


def sign_in(client: TestClient, token: str) -> None:
    response = post_form(client, "/login", {"token": token})
    assert response.status_code == 303, response.text

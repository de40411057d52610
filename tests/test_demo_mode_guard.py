"""The demo's accounts answer to tokens printed in the README (`sx_demo_admin` …): `shouxin demo` loads them
only in demo mode, and `shouxin serve` will not serve a database holding them outside demo mode until
`shouxin demo --remove` has revoked them (ops review, item 3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select
from typer.testing import CliRunner, Result

from cli.main import app
from models.accounts import token_identity
from models.db import get_engine
from models.demo import demo_accounts, seed_demo
from models.org import User
from models.schema import upgrade
from models.settings import get_settings
from tests.cli_support import cli_engine  # noqa: F401

STRONG_KEY = "Zq8" * 20


def _run(monkeypatch: pytest.MonkeyPatch, *args: str, demo_mode: bool) -> Result:
    monkeypatch.setenv("SHOUXIN_DEMO_MODE", "true" if demo_mode else "false")
    monkeypatch.setenv("SHOUXIN_SECRET_KEY", STRONG_KEY)
    get_settings.cache_clear()
    return CliRunner().invoke(app, list(args))


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[list[dict[str, Any]]]:
    """A migrated SQLite database; what uvicorn.run would have been called with (no server starts)."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app_path, **kwargs: calls.append({"app": app_path, **kwargs}))
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    upgrade(get_engine())
    yield calls
    get_engine().dispose()


def test_demo_outside_demo_mode_refuses_in_one_line_and_creates_no_account(
    monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    result = _run(monkeypatch, "demo", demo_mode=False)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert "SHOUXIN_DEMO_MODE=true" in result.output
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(User)).one() == 0


def test_serve_outside_demo_mode_refuses_a_database_with_demo_accounts_until_they_are_removed(
    monkeypatch: pytest.MonkeyPatch, served: list[dict[str, Any]]
) -> None:
    with Session(get_engine()) as session:
        seed_demo(session=session)
        session.commit()

    refused = _run(monkeypatch, "serve", demo_mode=False)
    assert refused.exit_code == 1
    assert len(refused.output.strip().splitlines()) == 1
    assert "shouxin demo --remove" in refused.output
    assert "SHOUXIN_DEMO_MODE=true" in refused.output
    assert served == []

    assert _run(monkeypatch, "serve", demo_mode=True).exit_code == 0  # a demo may serve them
    assert len(served) == 1

    removed = _run(monkeypatch, "demo", "--remove", demo_mode=False)
    assert removed.exit_code == 0, removed.output
    with Session(get_engine()) as session:
        assert demo_accounts(session=session) == []
        assert token_identity(session=session, token="sx_demo_admin") is None
        assert session.exec(select(func.count()).select_from(User).where(User.active)).one() == 0

    started = _run(monkeypatch, "serve", demo_mode=False)
    assert started.exit_code == 0, started.output
    assert len(served) == 2


def test_demo_in_demo_mode_loads_the_accounts_whose_tokens_serve_then_refuses(
    monkeypatch: pytest.MonkeyPatch, served: list[dict[str, Any]]
) -> None:
    loaded = _run(monkeypatch, "demo", demo_mode=True)
    assert loaded.exit_code == 0, loaded.output
    with Session(get_engine()) as session:
        admin = token_identity(session=session, token="sx_demo_admin")
    assert admin is not None
    assert admin.role == "admin"
    assert _run(monkeypatch, "serve", demo_mode=False).exit_code == 1
    assert served == []

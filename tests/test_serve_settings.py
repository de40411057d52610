"""`shouxin serve` refuses a guessable secret key outside demo mode, and believes X-Forwarded-For only
from the proxies it is told to trust (security probe round 2, items 4 and 11)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from cli.main import app
from models.db import get_engine
from models.schema import upgrade
from models.settings import DEV_SECRET_KEY, get_settings

GOOD_KEY = "k" * 20 + "-a-long-random-enough-key"


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """What uvicorn.run would have been called with (the server is not started)."""
    calls: list[dict[str, Any]] = []

    def run(app_path: str, **kwargs: Any) -> None:
        calls.append({"app": app_path, **kwargs})

    monkeypatch.setattr(uvicorn, "run", run)
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{tmp_path / 'serve.db'}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    upgrade(get_engine())
    return calls


def _serve(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Any:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    return CliRunner().invoke(app, ["serve", *args])


@pytest.mark.parametrize("key", [DEV_SECRET_KEY, "", "changeme", "short-but-random-7f3a"])
def test_serve_refuses_a_placeholder_or_short_secret_key_outside_demo_mode(
    monkeypatch: pytest.MonkeyPatch, served: list[dict[str, Any]], key: str
) -> None:
    result = _serve(monkeypatch, SHOUXIN_SECRET_KEY=key)
    assert result.exit_code == 1
    assert "SHOUXIN_SECRET_KEY" in result.output
    assert "token_urlsafe" in result.output
    assert served == []


def test_serve_accepts_the_development_key_in_demo_mode(
    monkeypatch: pytest.MonkeyPatch, served: list[dict[str, Any]]
) -> None:
    monkeypatch.delenv("SHOUXIN_SECRET_KEY", raising=False)
    result = _serve(monkeypatch, SHOUXIN_DEMO_MODE="true")
    assert result.exit_code == 0, result.output
    assert len(served) == 1


def test_serve_trusts_no_forwarded_header_unless_a_proxy_is_named(
    monkeypatch: pytest.MonkeyPatch, served: list[dict[str, Any]]
) -> None:
    assert _serve(monkeypatch, SHOUXIN_SECRET_KEY=GOOD_KEY).exit_code == 0
    assert served[-1]["proxy_headers"] is False

    assert _serve(monkeypatch, "--forwarded-allow-ips", "10.0.0.5").exit_code == 0
    assert served[-1]["proxy_headers"] is True
    assert served[-1]["forwarded_allow_ips"] == "10.0.0.5"

    assert _serve(monkeypatch, SHOUXIN_FORWARDED_ALLOW_IPS="10.0.0.6,10.0.0.7").exit_code == 0
    assert served[-1]["forwarded_allow_ips"] == "10.0.0.6,10.0.0.7"


def test_serve_on_a_missing_database_file_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, served: list[dict[str, Any]]
) -> None:
    missing = tmp_path / "nowhere" / "gone.db"
    get_engine.cache_clear()
    result = _serve(monkeypatch, SHOUXIN_SECRET_KEY=GOOD_KEY, SHOUXIN_DATABASE_URL=f"sqlite:///{missing}")
    assert result.exit_code == 1
    assert "shouxin db upgrade" in result.output
    assert "Traceback" not in result.output
    assert not missing.exists()
    assert served == []

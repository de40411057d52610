"""`shouxin sweep` and `shouxin flows run` use the Prefect server that is running (the one `make run`
starts) instead of starting a temporary one, unless another server is configured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console

from cli import embedded
from cli.embedded import running_prefect_server

LOCAL = "http://127.0.0.1:4200/api"


@pytest.fixture
def no_prefect_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("PREFECT_API_URL", "PREFECT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    profiles = tmp_path / "profiles.toml"
    monkeypatch.setenv("PREFECT_PROFILES_PATH", str(profiles))
    return profiles


def _local_server(monkeypatch: pytest.MonkeyPatch, *, answers: bool) -> list[str]:
    probed: list[str] = []

    def get(url: str, **_: Any) -> httpx.Response:
        probed.append(url)
        if not answers:
            raise httpx.ConnectError("connection refused")
        return httpx.Response(200, json=True)

    monkeypatch.setattr(embedded.httpx, "get", get)
    return probed


def test_the_running_local_server_is_used_for_the_call_only(
    monkeypatch: pytest.MonkeyPatch, no_prefect_config: Path
) -> None:
    probed = _local_server(monkeypatch, answers=True)
    console = Console(record=True, width=200)
    with running_prefect_server(console) as url:
        assert url == LOCAL
        assert embedded.os.environ["PREFECT_API_URL"] == LOCAL
    assert probed == [f"{LOCAL}/health"]
    assert "PREFECT_API_URL" not in embedded.os.environ
    assert "http://127.0.0.1:4200" in console.export_text()


def test_without_a_running_server_prefect_makes_its_own_choice(
    monkeypatch: pytest.MonkeyPatch, no_prefect_config: Path
) -> None:
    _local_server(monkeypatch, answers=False)
    with running_prefect_server(Console()) as url:
        assert url is None
        assert "PREFECT_API_URL" not in embedded.os.environ


def test_a_configured_server_is_kept_from_the_environment_or_the_active_profile(
    monkeypatch: pytest.MonkeyPatch, no_prefect_config: Path
) -> None:
    probed = _local_server(monkeypatch, answers=True)
    monkeypatch.setenv("PREFECT_API_URL", "http://prefect.example:4200/api")
    with running_prefect_server(Console()) as url:
        assert url == "http://prefect.example:4200/api"
    monkeypatch.delenv("PREFECT_API_URL")
    no_prefect_config.write_text(
        'active = "ops"\n[profiles.ops]\nPREFECT_API_URL = "http://ops.example:4200/api"\n', encoding="utf-8"
    )
    with running_prefect_server(Console()) as url:
        assert url == "http://ops.example:4200/api"
        assert "PREFECT_API_URL" not in embedded.os.environ  # Prefect reads its profile itself
    assert probed == []

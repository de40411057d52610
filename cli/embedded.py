"""The embedded default's Prefect: a local server under ./var/prefect and one `flows serve` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from rich.console import Console

PREFECT_PORT = 4200


def _prefect_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("PREFECT_HOME", str(Path("var/prefect").resolve()))
    env.setdefault("PREFECT_API_URL", f"http://127.0.0.1:{PREFECT_PORT}/api")
    # No network but the package registries: telemetry would only log lookup failures.
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return env


def _profile_api_url() -> str | None:
    """PREFECT_API_URL of the active Prefect profile, read from its file without importing Prefect (whose
    settings are fixed at import, before this process could point them at a server)."""
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect")
    path = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml")
    try:
        profiles = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError):
        return None
    active = os.environ.get("PREFECT_PROFILE") or profiles.get("active") or "ephemeral"
    value = profiles.get("profiles", {}).get(active, {}).get("PREFECT_API_URL")
    return str(value) if value else None


@contextmanager
def running_prefect_server(console: Console) -> Iterator[str | None]:
    """Run a flow call against the Prefect server that is already running instead of a temporary one.

    A configured server (PREFECT_API_URL in the environment or the active profile) is used as Prefect
    would; otherwise, when the local server `make run` starts answers on port 4200, this process uses it:
    the run is then visible in its UI and no temporary server is started (17–27 s). Yields the URL used,
    None for Prefect's own choice (a temporary server). Must be entered before Prefect is imported."""
    configured = os.environ.get("PREFECT_API_URL") or _profile_api_url()
    if configured:
        yield configured
        return
    url = f"http://127.0.0.1:{PREFECT_PORT}/api"
    try:
        healthy = httpx.get(f"{url}/health", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        healthy = False
    if not healthy:
        yield None
        return
    os.environ["PREFECT_API_URL"] = url
    console.print(f"使用正在运行的 Prefect 服务器 {url.removesuffix('/api')}（运行记录可在其界面查看）")
    try:
        yield url
    finally:
        os.environ.pop("PREFECT_API_URL", None)


def start_embedded_prefect(console: Console, timeout: float = 90.0) -> list[subprocess.Popen[bytes]]:
    """Start `prefect server start` and `shouxin flows serve`; returns the child processes."""
    env = _prefect_env()
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    log = open(Path(env["PREFECT_HOME"]) / "server.log", "ab")  # noqa: SIM115  (lives as long as the child)
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen(
        [str(bin_dir / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(PREFECT_PORT)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{env['PREFECT_API_URL']}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise RuntimeError(f"Prefect 服务器启动失败，见 {env['PREFECT_HOME']}/server.log")
        time.sleep(1)
    else:
        server.terminate()
        raise RuntimeError(f"Prefect 服务器 {timeout:.0f} 秒内未就绪，见 {env['PREFECT_HOME']}/server.log")
    os.environ["PREFECT_API_URL"] = env["PREFECT_API_URL"]
    flows_log = open(Path(env["PREFECT_HOME"]) / "flows.log", "ab")  # noqa: SIM115
    runner = subprocess.Popen(
        [str(bin_dir / "shouxin"), "flows", "serve"], env=env, stdout=flows_log, stderr=subprocess.STDOUT
    )
    console.print(
        f"Prefect 服务器：{env['PREFECT_API_URL'].removesuffix('/api')}"
        "（流程按计划运行，日志见 var/prefect/）"
    )
    return [runner, server]

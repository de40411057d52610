"""The embedded default's Prefect: a local server under ./var/prefect and one `flows serve` process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
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

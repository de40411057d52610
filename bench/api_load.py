"""Benchmark 3: the HTTP API under 50 concurrent clients, measured from a separate process.

The server is the real deployment shape for one machine: ``uvicorn api.app:app`` in its own process on a
free loopback port, over a fresh database migrated with ``shouxin db upgrade`` and filled by
``shouxin demo``. The load generator (``python -m bench.load``) is another process with asyncio + httpx:
each client loops over a mix of registrations (POST /complaints), queue reads (GET /tasks) and actions
(accept, then dispatch, of complaints that client registered).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from bench.common import PG_ENV, TODAY, Figure, Result

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _shouxin(env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "cli.main", *args], env=env, cwd=ROOT, check=True, capture_output=True
    )


@contextlib.contextmanager
def api_server(database_url: str) -> Iterator[str]:
    """A migrated database with demo data and uvicorn serving it; yields the base URL."""
    env = {**os.environ, "SHOUXIN_DATABASE_URL": database_url, "SHOUXIN_TODAY": TODAY.isoformat()}
    _shouxin(env, "db", "upgrade")
    _shouxin(env, "demo")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:app", "--host", "127.0.0.1", "--port", str(port),
         "--log-level", "warning", "--no-access-log"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                err = server.stderr.read().decode() if server.stderr else ""
                raise RuntimeError(f"uvicorn did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


def run_load(base: str, clients: int, seconds: float) -> dict[str, float]:
    """Run ``python -m bench.load`` as a separate process; returns its JSON summary."""
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", base, str(clients), str(seconds)],
        cwd=ROOT, check=True, capture_output=True, text=True, timeout=seconds + 120,
    )  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _figures(label: str, summary: dict[str, float], sqlite: bool) -> list[Figure]:
    errors = int(summary["errors"])
    note = f"{int(summary['requests']):,} requests, {errors} errors"
    return [
        Figure(f"{label}: requests per second", summary["rps"], "req/s", 500 if sqlite else None, note=note),
        Figure(f"{label}: p50 latency", summary["p50_ms"], "ms"),
        Figure(f"{label}: p99 latency", summary["p99_ms"], "ms", 50 if sqlite else None, higher=False),
    ]


def bench_api(
    *, clients: int = 50, seconds: float = 60, db: str = "sqlite", log: Callable[[str], None] = print
) -> Result:
    result = Result(
        3, "HTTP API under concurrent clients", f"{clients} clients × {seconds:g} s, 1 uvicorn process"
    )
    with tempfile.TemporaryDirectory(prefix="shouxin-bench-api-") as tmp:
        with api_server(f"sqlite:///{tmp}/api.db") as base:
            summary = run_load(base, clients, seconds)
        log(f"  SQLite: {summary}")
        result.figures += _figures("SQLite", summary, sqlite=True)
        result.checks = {
            k: int(v) for k, v in summary.items() if k in ("requests", "errors", "registered", "acted")
        }
    pg_url = os.environ.get(PG_ENV)
    if db == "postgres" and pg_url:
        from sqlalchemy import create_engine, text

        engine = create_engine(pg_url)
        with engine.begin() as conn:  # a fresh schema for `db upgrade`
            conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
        engine.dispose()
        with api_server(pg_url) as base:
            summary = run_load(base, clients, seconds)
        log(f"  PostgreSQL: {summary}")
        result.figures += _figures("PostgreSQL", summary, sqlite=False)
    return result

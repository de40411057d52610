"""Benchmark 3: the HTTP API under 50 concurrent clients, measured from a separate process.

The server is the real deployment shape for one machine: ``shouxin serve --workers 2`` (one uvicorn worker
process per core, docs/deploy.md) on a free loopback port, over a fresh database migrated with
``shouxin db upgrade`` and filled by ``shouxin demo``; access logging is off, as behind a reverse proxy
that keeps the access log. The load generator (``python -m bench.load``) is another process: each client
is one keep-alive connection sending a mix of registrations (POST /complaints, 10 %), queue reads
(GET /tasks, 65 %) and actions (accept, then dispatch, of complaints that client registered; 25 %).

Why the headline run is paced. Issue 7 asks for >= 500 req/s with p99 < 50 ms from 50 clients. In a
closed loop with no think time (every client sends again as soon as it has its answer) 50 requests are
always in flight, and by Little's law (in flight = throughput x mean latency) the mean latency is
50 / throughput: 100 ms at 500 req/s. A p99 under 50 ms would need a mean well under 50 ms, i.e. more
than 1,000 req/s, twice the throughput target; the two targets cannot be met together by such clients
on any server of that speed. The target describes staff who pause between requests, so the headline run
is open-loop: 50 clients together *offer* ``rate`` requests per second (600 by default, 12/s each) on
Poisson schedules, latency is measured from each request's scheduled send time (so a stall also counts
against the requests queued behind it, as wrk2 does), and the figures are the achieved rate (>= 500) and
the p99 (< 50 ms) at that offered load. The closed loop is still run after it, on the same server, for
``saturation_seconds``: its throughput is the server's saturation figure (info only), its latency just
50 / throughput.

The headline is the capacity at the latency target: the offered rate is stepped up (``RATES``, a short
paced run each) until the p99 reaches 50 ms or a request fails, and the highest rate that held is the
figure — on SQLite with two API processes and with one, and on PostgreSQL with two. The long run at 600
req/s offered overloads the server on purpose and only shows how queueing grows.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
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


def cpu_seconds(root: int) -> float:
    """User + system CPU seconds of process ``root`` and its living descendants (Linux /proc)."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier += children
    return sum(times.get(pid, 0.0) for pid in tree)


@contextlib.contextmanager
def api_server(database_url: str, workers: int = 2) -> Iterator[tuple[str, int]]:
    """A migrated database with demo data and ``shouxin serve`` on it; yields the base URL and the pid."""
    env = {
        **os.environ,
        "SHOUXIN_DATABASE_URL": database_url,
        "SHOUXIN_TODAY": TODAY.isoformat(),
        "SHOUXIN_SECRET_KEY": secrets.token_urlsafe(48),  # serve refuses the development key
        # The load signs in with the demo's public tokens: `demo` loads them and `serve` accepts a
        # database holding them only in demo mode.
        "SHOUXIN_DEMO_MODE": "true",
    }
    _shouxin(env, "db", "upgrade")
    _shouxin(env, "demo")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers), "--no-access-log"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
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
        # Every worker answers: a request per worker would not prove it, so give them a moment to boot.
        time.sleep(1 if workers > 1 else 0)
        yield base, server.pid
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def run_load(
    base: str, clients: int, seconds: float, server_pid: int | None = None, rate: float | None = None
) -> dict[str, float]:
    """Run ``python -m bench.load`` as a separate process (paced at ``rate`` requests/s in all, else a
    closed loop); returns its JSON summary, with the CPU milliseconds the server's processes spent per
    request when ``server_pid`` is given."""
    before = cpu_seconds(server_pid) if server_pid else 0.0
    pace = [str(rate)] if rate else []
    out = subprocess.run(
        [sys.executable, "-m", "bench.load", base, str(clients), str(seconds), *pace],
        cwd=ROOT, check=True, capture_output=True, text=True, timeout=seconds + 120,
    )  # fmt: skip
    summary = dict(json.loads(out.stdout.strip().splitlines()[-1]))
    if server_pid and summary["requests"]:
        summary["server_cpu_ms_per_request"] = (cpu_seconds(server_pid) - before) * 1000 / summary["requests"]
    return summary


def _figures(label: str, paced: dict[str, float], closed: dict[str, float]) -> list[Figure]:
    errors = int(paced["errors"])
    note = f"{int(paced['requests']):,} requests at {paced['offered_rps']:g} req/s offered, {errors} errors"
    kinds = ", ".join(
        f"{kind} {paced[f'{kind}_p99_ms']:,.0f}"
        for kind in ("read", "register", "accept", "dispatch")
        if f"{kind}_p99_ms" in paced
    )
    cpu = paced.get("server_cpu_ms_per_request")
    return [
        Figure(f"{label}: requests per second at {paced['offered_rps']:g} req/s offered (overload, info)",
               paced["rps"], "req/s", note=note),
        Figure(f"{label}: p50 latency (paced)", paced["p50_ms"], "ms"),
        Figure(f"{label}: p99 latency (paced, overload)", paced["p99_ms"], "ms", higher=False,
               note=f"p99 by kind, ms: {kinds}"),
        *([Figure(f"{label}: server CPU per request (paced)", cpu, "ms")] if cpu is not None else []),
        Figure(f"{label}: saturation, closed loop (requests per second)", closed["rps"], "req/s",
               note=f"{int(closed['requests']):,} requests, {int(closed['errors'])} errors, "
               f"p99 {closed['p99_ms']:,.0f} ms = Little's law at {closed['rps']:,.0f} req/s"),
    ]  # fmt: skip


def capacity(
    base: str, pid: int, clients: int, rates: tuple[float, ...], step_seconds: float, p99_ms: float = 50.0
) -> tuple[float, list[dict[str, float]]]:
    """The highest offered rate of ``rates`` (ascending) at which the paced p99 stays under ``p99_ms`` with
    no errors, stepping up until a step fails; returns it (0 when even the first fails) and every step's
    summary. Each step is a paced run as in the headline, so its latency is corrected for coordinated
    omission; a stall in one step leaves no backlog for the next, since each step's schedule starts anew."""
    best, steps = 0.0, []
    for rate in rates:
        summary = run_load(base, clients, step_seconds, pid, rate=rate)
        steps.append(summary)
        if summary["errors"] or summary["p99_ms"] >= p99_ms:
            break
        best = rate
    return best, steps


def _capacity_figure(
    label: str, best: float, steps: list[dict[str, float]], target: float | None = None
) -> Figure:
    tried = "; ".join(
        f"{s['offered_rps']:g}/s: p99 {s['p99_ms']:,.1f} ms, {int(s['errors'])} errors" for s in steps
    )
    name = f"{label}: capacity at p99 < 50 ms (highest offered rate)"
    return Figure(name, best, "req/s", target, note=tried)


def _measure(
    url: str,
    clients: int,
    seconds: float,
    rate: float,
    saturation_seconds: float,
    workers: int,
    rates: tuple[float, ...],
    step_seconds: float,
) -> tuple[dict[str, float], dict[str, float], tuple[float, list[dict[str, float]]]]:
    """The capacity steps first (on the fresh server), then the overloaded paced run and the closed loop,
    which only show queueing."""
    with api_server(url, workers) as (base, pid):
        found = capacity(base, pid, clients, rates, step_seconds)
        paced = run_load(base, clients, seconds, pid, rate=rate)
        closed = run_load(base, clients, saturation_seconds, pid)
    return paced, closed, found


def _capacity_only(
    url: str, clients: int, workers: int, rates: tuple[float, ...], step_seconds: float
) -> tuple[float, list[dict[str, float]]]:
    with api_server(url, workers) as (base, pid):
        return capacity(base, pid, clients, rates, step_seconds)


def _fresh_pg(pg_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_url)
    with engine.begin() as conn:  # a fresh schema for `db upgrade`
        conn.execute(text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


# Offered rates stepped for the capacity figure: fine where the SQLite figures lie, coarser above.
RATES = (25.0, 50.0, 75.0, 100.0, 125.0, 150.0, 175.0, 200.0, 250.0, 300.0, 400.0, 500.0, 600.0)


def bench_api(
    *,
    clients: int = 50,
    seconds: float = 60,
    rate: float = 600,
    saturation_seconds: float = 20,
    workers: int = 2,
    db: str = "sqlite",
    step_seconds: float = 10,
    rates: tuple[float, ...] = RATES,
    log: Callable[[str], None] = print,
) -> Result:
    """Headline: the API's capacity at the latency target (the highest paced rate with p99 < 50 ms) on
    SQLite with ``workers`` API processes and with one, and on PostgreSQL with ``workers``. The run
    offering ``rate`` and the closed loop follow as information on queueing."""
    result = Result(
        3,
        "HTTP API under concurrent clients",
        f"{clients} clients; capacity stepped over {', '.join(f'{r:g}' for r in rates)} req/s offered, "
        f"{step_seconds:g} s a step; then {seconds:g} s offering {rate:g} req/s (Poisson) and a closed loop "
        f"× {saturation_seconds:g} s, `shouxin serve --workers {workers}`",
    )
    with tempfile.TemporaryDirectory(prefix="shouxin-bench-api-") as tmp:
        url = f"sqlite:///{tmp}/api.db"
        paced, closed, (best, steps) = _measure(
            url, clients, seconds, rate, saturation_seconds, workers, rates, step_seconds
        )
        log(f"  SQLite capacity ({workers} processes): {best:g} req/s; steps {steps}")
        log(f"  SQLite paced: {paced}")
        log(f"  SQLite closed loop: {closed}")
        # Issue 7's target (>= 500 req/s, p99 < 50 ms) is for the deployment shape: SQLite, 2 processes.
        result.figures.append(_capacity_figure(f"SQLite, {workers} API processes", best, steps, 500))
        if workers != 1:
            one, one_steps = _capacity_only(f"sqlite:///{tmp}/api1.db", clients, 1, rates, step_seconds)
            log(f"  SQLite capacity (1 process): {one:g} req/s; steps {one_steps}")
            result.figures.append(_capacity_figure("SQLite, 1 API process", one, one_steps))
        result.figures += _figures("SQLite", paced, closed)
        result.checks = {
            k: int(v) for k, v in paced.items() if k in ("requests", "errors", "registered", "acted")
        }
    pg_url = os.environ.get(PG_ENV)
    if db == "postgres" and pg_url:
        _fresh_pg(pg_url)
        paced, closed, (best, steps) = _measure(
            pg_url, clients, seconds, rate, saturation_seconds, workers, rates, step_seconds
        )
        log(f"  PostgreSQL capacity ({workers} processes): {best:g} req/s; steps {steps}")
        log(f"  PostgreSQL paced: {paced}")
        log(f"  PostgreSQL closed loop: {closed}")
        result.figures.append(_capacity_figure(f"PostgreSQL, {workers} API processes", best, steps))
        result.figures += _figures("PostgreSQL", paced, closed)
    return result

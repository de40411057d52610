"""The load generator of benchmark 3, run as its own process:
``python -m bench.load URL CLIENTS SECONDS [RATE]``.

Without RATE it is a closed loop: every client sends its next request as soon as the previous answer is
in, so CLIENTS requests are always in flight and the figure is the server's saturation throughput. With
RATE (requests per second over all clients) it is paced: each client sends on a Poisson schedule of
RATE / CLIENTS per second, and a request's latency is counted from the moment it was *scheduled*, not from
when it could be sent, so a server that stalls cannot hide the wait of the requests queued behind the
stall (coordinated omission, the correction wrk2 makes). Requests scheduled before the end that are still
unsent after a grace period count as errors (``error_unsent``).

Prints one JSON line: requests, errors, requests/s, p50/p99 in ms (overall and per kind), how many
registrations and actions, and the generator's own CPU per request.

Each client is one keep-alive HTTP/1.1 connection driven by a few lines of asyncio (on uvloop when it is
installed) rather than httpx: on this 2-core machine the generator shares the cores with the server, and
httpx spent ~5 ms of CPU per request, more than the API itself (docs/benchmarks.md). The requests on the
wire are the same: JSON bodies, a bearer token, a new connection only after an error.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time
from typing import Any
from urllib.parse import urlsplit

INTAKE = {"Authorization": "Bearer sx_demo_intake"}
HANDLER = {"Authorization": "Bearer sx_demo_handler_zjj"}
COMPLAINT = {
    "channel": "hotline", "complainant_name": "基准机电设备有限公司", "complainant_phone": "13512345678",
    "category": "sme_arrears", "respondent_department_code": "ZJJ", "amount": "380000.00",
    "summary": "市住建局拖欠设备采购款", "description": "设备已验收，合同约定30日内付款，至今未付。",
}  # fmt: skip


# Below uvicorn's keep-alive timeout (5 s), with room for the request's own time.
IDLE_REOPEN_SECONDS = 4.0

# The mix: a city's staff read their queues far more often than the hotline registers new complaints;
# the rest are actions (accept, then dispatch) on complaints the same client registered.
REGISTER, READ = 0.10, 0.65


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.by_kind: dict[str, list[float]] = {}
        self.errors = 0
        self.statuses: dict[str, int] = {}
        self.registered = 0
        self.acted = 0

    def error(self, key: str, count: int = 1) -> None:
        self.errors += count
        self.statuses[key] = self.statuses.get(key, 0) + count


class HTTPError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection: a request, then its whole response (Content-Length or chunked)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    async def request(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, bytes]:
        # uvicorn closes a keep-alive connection idle for 5 s; at low paced rates a client's next request
        # often comes later than that and met a closed socket. A connection idle that long is opened anew
        # (as an HTTP client's pool does), its cost counted in the request's latency.
        if self.writer is not None and time.monotonic() - self.last_used > IDLE_REOPEN_SECONDS:
            self.close()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        payload = b"" if body is None else json.dumps(body).encode()
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        try:
            self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
            status, content, close = await self._response()
        except (OSError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            self.close()
            raise HTTPError(type(exc).__name__) from exc
        self.last_used = time.monotonic()
        if close:
            self.close()
        return status, content

    async def _response(self) -> tuple[int, bytes, bool]:
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise ValueError("connection closed")
        status = int(status_line.split()[1])
        length, chunked, close = 0, False, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = b"close" in value.lower()
        if not chunked:
            return status, await self.reader.readexactly(length), close
        parts = []
        while size := int((await self.reader.readline()).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return status, b"".join(parts), close

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Mix:
    """One client's choice of the next request: its own registrations feed its accepts and dispatches."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.accepted: list[int] = []
        self.fresh: list[int] = []

    def next(self) -> tuple[str, str, Any, dict[str, str], str, int | None]:
        roll = self.rng.random()
        if roll < REGISTER or not (self.fresh or self.accepted) and roll < 2 * REGISTER:
            return "POST", "/api/v1/complaints", COMPLAINT, INTAKE, "register", None
        if roll < REGISTER + READ or not (self.fresh or self.accepted):
            return "GET", "/api/v1/tasks?limit=50", None, HANDLER, "read", None
        if self.fresh:
            cid = self.fresh.pop()
            return "POST", f"/api/v1/complaints/{cid}/actions/accept", {}, INTAKE, "accept", cid
        cid = self.accepted.pop()
        body = {"lead_department_code": "ZJJ"}
        return "POST", f"/api/v1/complaints/{cid}/actions/dispatch", body, INTAKE, "dispatch", cid

    def answered(self, kind: str, cid: int | None, content: bytes, stats: Stats) -> None:
        if kind == "register":
            stats.registered += 1
            self.fresh.append(int(json.loads(content)["id"]))
        elif kind in ("accept", "dispatch"):
            stats.acted += 1
            if kind == "accept" and cid is not None:
                self.accepted.append(cid)


async def send(http: Connection, mix: Mix, stats: Stats, since: float) -> None:
    """One request of the mix; its latency runs from ``since`` (the send, or the scheduled send)."""
    method, url, body, headers, kind, cid = mix.next()
    try:
        status, content = await http.request(method, url, body, headers)
    except HTTPError as exc:
        stats.error(f"{kind}:{exc}")
        return
    latency = (time.perf_counter() - since) * 1000
    stats.latencies.append(latency)
    stats.by_kind.setdefault(kind, []).append(latency)
    if status >= 400:
        stats.error(f"{kind}:{status}")
        return
    mix.answered(kind, cid, content, stats)


async def client(http: Connection, stats: Stats, until: float, seed: int) -> None:
    """Closed loop: the next request as soon as the previous answer is in."""
    mix = Mix(seed)
    while time.perf_counter() < until:
        await send(http, mix, stats, time.perf_counter())


async def paced_client(
    http: Connection, stats: Stats, start: float, until: float, rate: float, seed: int, grace: float
) -> None:
    """Open loop on one connection: sends at Poisson times of ``rate`` per second from ``start`` to
    ``until``. A request whose time came while the previous one was still out goes as soon as that one is
    answered, and its wait counts in its latency."""
    mix = Mix(seed)
    schedule = random.Random(seed + 1_000_003)
    due = start + schedule.expovariate(rate)
    while due < until:
        now = time.perf_counter()
        if now > until + grace:
            # The server fell this far behind: what is left of the schedule was never sent.
            stats.error("unsent", count=_scheduled_before(due, until, rate, schedule))
            return
        if due > now:
            await asyncio.sleep(due - now)
        await send(http, mix, stats, due)
        due += schedule.expovariate(rate)


def _scheduled_before(due: float, until: float, rate: float, schedule: random.Random) -> int:
    count = 0
    while due < until:
        count += 1
        due += schedule.expovariate(rate)
    return count


async def main(base: str, clients: int, seconds: float, rate: float | None = None) -> dict[str, float]:
    stats = Stats()
    url = urlsplit(base)
    connections = [Connection(url.hostname or "127.0.0.1", url.port or 80) for _ in range(clients)]
    for http in connections:  # connected before the clock starts, as a warm pool would be
        status, _ = await http.request("GET", "/api/v1/health", None, {})
        assert status == 200, status
        # A read through the routers before the clock, on every connection (so on every worker): FastAPI
        # builds each included router's route state on the first request that passes it (the first
        # GET /tasks of a worker took ~115 ms of CPU, the next ones ~8 ms), a start-up cost that otherwise
        # landed in the first capacity step's p99 (25 req/s: 250 requests, so p99 is the third slowest).
        status, _ = await http.request("GET", "/api/v1/tasks?limit=50", None, HANDLER)
        assert status == 200, status
    start, cpu = time.perf_counter(), time.process_time()
    until = start + seconds
    if rate:
        grace = max(5.0, seconds / 4)
        await asyncio.gather(
            *(
                paced_client(http, stats, start, until, rate / clients, seed, grace)
                for seed, http in enumerate(connections)
            )
        )
    else:
        await asyncio.gather(*(client(http, stats, until, seed) for seed, http in enumerate(connections)))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    for http in connections:
        http.close()
    lat = sorted(stats.latencies)

    def pct(q: float, values: list[float] = lat) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))] if values else float("nan")

    kinds = {f"{kind}_p50_ms": pct(50, v) for kind, v in stats.by_kind.items()}
    kinds |= {f"{kind}_p99_ms": pct(99, v) for kind, v in stats.by_kind.items()}

    return {
        "requests": len(lat), "errors": stats.errors, "rps": len(lat) / elapsed, "p50_ms": pct(50),
        "p99_ms": pct(99), "registered": stats.registered, "acted": stats.acted, "seconds": elapsed,
        "client_cpu_ms_per_request": cpu * 1000 / max(1, len(lat)), "offered_rps": rate or 0.0,
        **kinds,
        **{f"error_{key}": count for key, count in stats.statuses.items()},
    }  # fmt: skip


if __name__ == "__main__":
    url, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    offered = float(sys.argv[4]) if len(sys.argv) > 4 else None
    try:
        import uvloop

        summary = uvloop.run(main(url, n, secs, offered))
    except ImportError:
        summary = asyncio.run(main(url, n, secs, offered))
    print(json.dumps(summary))

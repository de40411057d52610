"""The load generator of benchmark 3, run as its own process: ``python -m bench.load URL CLIENTS SECONDS``.

Prints one JSON line: requests, errors, requests/s, p50/p99 in ms, how many registrations and actions, and
the generator's own CPU per request.

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


class HTTPError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection: a request, then its whole response (Content-Length or chunked)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, bytes]:
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


async def client(http: Connection, stats: Stats, until: float, seed: int) -> None:
    rng = random.Random(seed)
    accepted: list[int] = []
    fresh: list[int] = []
    while time.perf_counter() < until:
        roll = rng.random()
        if roll < REGISTER or not (fresh or accepted) and roll < 2 * REGISTER:
            method, url, body, headers, kind = "POST", "/api/v1/complaints", COMPLAINT, INTAKE, "register"
        elif roll < REGISTER + READ or not (fresh or accepted):
            method, url, body, headers, kind = "GET", "/api/v1/tasks?limit=50", None, HANDLER, "read"
        elif fresh:
            cid = fresh.pop()
            method, url, body, headers, kind = (
                "POST",
                f"/api/v1/complaints/{cid}/actions/accept",
                {},
                INTAKE,
                "accept",
            )
        else:
            cid = accepted.pop()
            body = {"lead_department_code": "ZJJ"}
            method, url, headers, kind = (
                "POST",
                f"/api/v1/complaints/{cid}/actions/dispatch",
                INTAKE,
                "dispatch",
            )
        start = time.perf_counter()
        try:
            status, content = await http.request(method, url, body, headers)
        except HTTPError as exc:
            stats.errors += 1
            key = f"{kind}:{exc}"
            stats.statuses[key] = stats.statuses.get(key, 0) + 1
            continue
        stats.latencies.append((time.perf_counter() - start) * 1000)
        stats.by_kind.setdefault(kind, []).append(stats.latencies[-1])
        if status >= 400:
            stats.errors += 1
            key = f"{kind}:{status}"
            stats.statuses[key] = stats.statuses.get(key, 0) + 1
            continue
        if kind == "register":
            stats.registered += 1
            fresh.append(int(json.loads(content)["id"]))
        elif kind in ("accept", "dispatch"):
            stats.acted += 1
            if kind == "accept":
                accepted.append(cid)


async def main(base: str, clients: int, seconds: float) -> dict[str, float]:
    stats = Stats()
    url = urlsplit(base)
    connections = [Connection(url.hostname or "127.0.0.1", url.port or 80) for _ in range(clients)]
    for http in connections:  # connected before the clock starts, as a warm pool would be
        status, _ = await http.request("GET", "/api/v1/health", None, {})
        assert status == 200, status
    start, cpu = time.perf_counter(), time.process_time()
    until = start + seconds
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
        "client_cpu_ms_per_request": cpu * 1000 / max(1, len(lat)),
        **kinds,
        **{f"error_{key}": count for key, count in stats.statuses.items()},
    }  # fmt: skip


if __name__ == "__main__":
    url, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    try:
        import uvloop

        summary = uvloop.run(main(url, n, secs))
    except ImportError:
        summary = asyncio.run(main(url, n, secs))
    print(json.dumps(summary))

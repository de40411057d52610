"""The load generator of benchmark 3, run as its own process: ``python -m bench.load URL CLIENTS SECONDS``.

Prints one JSON line: requests, errors, requests/s, p50/p99 in ms, and how many registrations and actions.
"""

from __future__ import annotations

import asyncio
import json
import random
import sys
import time

import httpx

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


async def client(http: httpx.AsyncClient, stats: Stats, until: float, seed: int) -> None:
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
            response = await http.request(method, url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            stats.errors += 1
            key = f"{kind}:{type(exc).__name__}"
            stats.statuses[key] = stats.statuses.get(key, 0) + 1
            continue
        stats.latencies.append((time.perf_counter() - start) * 1000)
        stats.by_kind.setdefault(kind, []).append(stats.latencies[-1])
        if response.status_code >= 400:
            stats.errors += 1
            key = f"{kind}:{response.status_code}"
            stats.statuses[key] = stats.statuses.get(key, 0) + 1
            continue
        if kind == "register":
            stats.registered += 1
            fresh.append(int(response.json()["id"]))
        elif kind in ("accept", "dispatch"):
            stats.acted += 1
            if kind == "accept":
                accepted.append(cid)


async def main(base: str, clients: int, seconds: float) -> dict[str, float]:
    stats = Stats()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        await http.get("/api/v1/health")
        start = time.perf_counter()
        until = start + seconds
        await asyncio.gather(*(client(http, stats, until, seed) for seed in range(clients)))
        elapsed = time.perf_counter() - start
    lat = sorted(stats.latencies)

    def pct(q: float, values: list[float] = lat) -> float:
        values = sorted(values)
        return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))] if values else float("nan")

    kinds = {f"{kind}_p50_ms": pct(50, v) for kind, v in stats.by_kind.items()}
    kinds |= {f"{kind}_p99_ms": pct(99, v) for kind, v in stats.by_kind.items()}

    return {
        "requests": len(lat), "errors": stats.errors, "rps": len(lat) / elapsed, "p50_ms": pct(50),
        "p99_ms": pct(99), "registered": stats.registered, "acted": stats.acted, "seconds": elapsed,
        **kinds,
        **{f"error_{key}": count for key, count in stats.statuses.items()},
    }  # fmt: skip


if __name__ == "__main__":
    url, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    print(json.dumps(asyncio.run(main(url, n, secs))))

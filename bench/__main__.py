"""``python -m bench [--quick] [--only N] [--db sqlite|postgres]``: run the benchmarks, print each figure
next to its target with PASS/MISS, and rewrite the results section of docs/benchmarks.md."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from bench.common import PG_ENV, Result, machine
from bench.report import write_report

# Full and --quick sizes; docs/benchmarks.md states the sizes each run used.
SIZES: dict[str, dict[int, dict[str, Any]]] = {
    "full": {
        1: {"pledges": 1_000_000},
        2: {"publications": 1000},
        3: {"clients": 50, "seconds": 60, "rate": 600.0, "saturation_seconds": 20.0, "step_seconds": 10.0},
        4: {"rows": 100_000},
        5: {"records": 1_000_000},
    },
    "quick": {
        1: {"pledges": 20_000},
        2: {"publications": 50},
        3: {"clients": 10, "seconds": 5, "rate": 100.0, "saturation_seconds": 3.0, "step_seconds": 2.0},
        4: {"rows": 5_000},
        5: {"records": 20_000},
    },
}


@dataclass(frozen=True)
class Bench:
    number: int
    run: Callable[..., Result]
    needs_prefect: bool = False


def _benches() -> list[Bench]:
    from bench.api_load import bench_api
    from bench.importer import bench_import
    from bench.register import bench_register
    from bench.sweep import bench_naive_vs_batch, bench_sweep

    return [
        Bench(1, bench_sweep),
        Bench(2, bench_naive_vs_batch, needs_prefect=True),
        Bench(3, bench_api),
        Bench(4, bench_import),
        Bench(5, bench_register),
    ]


@contextlib.contextmanager
def prefect_api() -> Iterator[None]:
    """A Prefect API for benchmark 2: the configured server if any, else a temporary test harness."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.testing.utilities import prefect_test_harness

    # The temporary server's telemetry heartbeat writes to its SQLite file while the benchmark's flow runs
    # do, and logged "database is locked" tracebacks in the middle of the figures.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    with prefect_test_harness(server_startup_timeout=120):
        yield


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="CI-sized run (about a minute)")
    parser.add_argument("--only", type=int, action="append", choices=range(1, 6), help="run benchmark N only")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite",
                        help="postgres: $SHOUXIN_BENCH_PG_URL, else a throwaway durable server")  # fmt: skip
    parser.add_argument("--size", action="append", default=[], metavar="N:key=value",
                        help="override a size, e.g. 2:publications=300")  # fmt: skip
    parser.add_argument("--no-docs", action="store_true", help="do not update docs/benchmarks.md")
    args = parser.parse_args(argv)
    sizes = {n: dict(v) for n, v in SIZES["quick" if args.quick else "full"].items()}
    for item in args.size:
        number, _, pair = item.partition(":")
        key, _, value = pair.partition("=")
        sizes[int(number)][key] = type(sizes[int(number)].get(key, 0))(value)
    with postgres_server(args.db):
        return _run(args, sizes)


@contextlib.contextmanager
def postgres_server(db: str) -> Iterator[None]:
    """For ``--db postgres`` without $SHOUXIN_BENCH_PG_URL: a throwaway PostgreSQL 15 server (the one of
    `make test`, tests/pgserver.py) but with durable commits, so the figures are those of a real server."""
    if db != "postgres" or os.environ.get(PG_ENV):
        yield
        return
    from tests.pgserver import DURABLE_OPTIONS, running_server

    with running_server(DURABLE_OPTIONS) as server:
        server.create_database("bench")
        os.environ[PG_ENV] = server.url("bench")
        try:
            yield
        finally:
            del os.environ[PG_ENV]


def _run(args: argparse.Namespace, sizes: dict[int, dict[str, Any]]) -> int:
    info = machine()
    print(
        f"Shouxin benchmarks — {info['cpu']}, {info['cores']} cores, {info['ram']}, commit {info['commit']}"
    )
    results: list[Result] = []
    failed = False
    for bench in _benches():
        if args.only and bench.number not in args.only:
            continue
        print(f"\n[{bench.number}] {sizes[bench.number]}", flush=True)
        start = time.perf_counter()
        try:
            context = prefect_api() if bench.needs_prefect else contextlib.nullcontext()
            with context:
                result = bench.run(**sizes[bench.number], db=args.db, log=lambda m: print(m, flush=True))
        except Exception:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            failed = True
            continue
        result.seconds = time.perf_counter() - start
        print(f"[{result.number}] {result.title} — {result.sizes} ({result.seconds:.0f} s)")
        for figure in result.figures:
            print(figure.line())
        print(f"  checks: {result.checks}", flush=True)
        results.append(result)
    if results and not args.no_docs:
        path = write_report(results, info, quick=args.quick, db=args.db)
        print(f"\nwrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

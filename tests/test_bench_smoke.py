"""Every benchmark runs at a tiny size, so the benchmark code cannot rot; no timing is asserted here
(the figures mean something only at full size on a quiet machine: `make bench`)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bench.api_load import bench_api
from bench.common import machine
from bench.importer import bench_import
from bench.register import bench_register
from bench.report import write_report
from bench.sweep import bench_naive_vs_batch, bench_sweep


def _quiet(_: str) -> None:
    return None


def test_sweep_publishes_every_due_pledge_and_the_idle_sweep_does_nothing() -> None:
    result = bench_sweep(pledges=500, log=_quiet)
    checks = result.checks
    assert checks["due"] == 50
    for key in ("published", "breaches", "publish_events", "breach_events", "mails", "platform_documents"):
        assert checks[key] == 50, key
    assert checks["idle_sweep_work"] == 0
    assert [f.target for f in result.figures] == [10_000, 1.0, 500]
    assert result.figures[2].value > 0


@pytest.mark.usefixtures("prefect_harness")
def test_naive_flow_per_pledge_and_batch_publish_the_same_number() -> None:
    result = bench_naive_vs_batch(publications=3, log=_quiet)
    assert result.checks["batch_published"] == 15  # five timed sets of 3
    assert result.checks["naive_published"] == 3
    assert result.checks["breaches"] == 18
    assert result.checks["publish_events"] == 18
    assert result.figures[-1].unit == "×"


def test_api_load_runs_against_a_real_uvicorn_process_and_steps_the_rate() -> None:
    result = bench_api(
        clients=2, seconds=1.5, rate=20, saturation_seconds=1, step_seconds=1, rates=(5.0, 10.0), log=_quiet
    )
    assert result.checks["requests"] > 0
    assert result.checks["errors"] == 0
    assert result.checks["registered"] > 0
    capacity = [f for f in result.figures if "capacity" in f.name]
    assert [f.name.split(":")[0] for f in capacity] == ["SQLite, 2 API processes", "SQLite, 1 API process"]
    # Each step tried is listed; a step that held is the figure, so the figure is one of the rates tried.
    for figure in capacity:
        assert figure.value in (0.0, 5.0, 10.0)
        assert "5/s: p99" in figure.note


def test_import_accepts_good_rows_and_reports_the_bad_ones() -> None:
    result = bench_import(rows=300, log=_quiet)
    assert result.checks == {"total": 300, "imported": 297, "failed": 3, "expected_failed": 3}


def test_register_searches_find_records_and_paging_walks_them_all() -> None:
    result = bench_register(records=300, queries=8, log=_quiet)
    assert result.checks["code_hits"] == 1
    assert result.checks["rows_paged"] == 300
    # Over HTTP too, on the seeded day, whatever the real date (the public register hides ended records).
    assert result.checks["http_code_hits"] == result.checks["http_code_searches"] == 1
    assert all(f.value > 0 for f in result.figures)


def test_report_writes_a_results_block_and_keeps_the_rest(tmp_path: Path) -> None:
    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\nanalysis by hand\n", encoding="utf-8")
    result = bench_import(rows=100, log=_quiet)
    write_report([result], machine(), quick=True, db="sqlite", path=doc)
    write_report([result], machine(), quick=True, db="sqlite", path=doc)
    text = doc.read_text(encoding="utf-8")
    assert "analysis by hand" in text
    assert text.count("<!-- bench:quick:4:start -->") == 1
    assert "Bulk import of pledges from CSV" in text


def test_paced_latency_counts_from_the_scheduled_send_time() -> None:
    """A server slower than the schedule: the requests queued behind a slow answer carry their wait."""
    import asyncio

    from bench import load

    class SlowConnection:
        async def request(self, *_: object) -> tuple[int, bytes]:
            await asyncio.sleep(0.05)
            return 200, b"[]"

    stats = load.Stats()

    async def run() -> None:
        start = time.perf_counter()
        # ~100 requests scheduled in 0.5 s against a 50 ms answer: at most ~10 are answered in time.
        await load.paced_client(SlowConnection(), stats, start, start + 0.5, 200, 0, grace=0.2)  # type: ignore[arg-type]

    asyncio.run(run())
    assert stats.errors > 0  # the part of the schedule the server could not reach in the grace period
    assert "unsent" in stats.statuses
    assert len(stats.latencies) >= 5
    # Each answer waited behind the previous ones: the latencies grow well past the 50 ms service time.
    assert max(stats.latencies) > 5 * 50

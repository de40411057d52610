"""Every benchmark runs at a tiny size, so the benchmark code cannot rot; no timing is asserted here
(the figures mean something only at full size on a quiet machine: `make bench`)."""

from __future__ import annotations

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


def test_api_load_runs_against_a_real_uvicorn_process() -> None:
    result = bench_api(clients=2, seconds=1.5, log=_quiet)
    assert result.checks["requests"] > 0
    assert result.checks["errors"] == 0
    assert result.checks["registered"] > 0


def test_import_accepts_good_rows_and_reports_the_bad_ones() -> None:
    result = bench_import(rows=300, log=_quiet)
    assert result.checks == {"total": 300, "imported": 297, "failed": 3, "expected_failed": 3}


def test_register_searches_find_records_and_paging_walks_them_all() -> None:
    result = bench_register(records=300, queries=8, log=_quiet)
    assert result.checks["code_hits"] == 1
    assert result.checks["rows_paged"] == 300
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

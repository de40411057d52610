"""``python -m bench.pairs``: figures read back from what ``python -m bench`` prints, runs alternated so
the machine's drift falls on both sides, and the pairs tabled."""

from __future__ import annotations

import pytest

from bench.common import Figure
from bench.pairs import alternate, collect, main, parse_figures, table


def _output(sweep: float, idle: float, rows: float) -> str:
    figures = [
        Figure("publications per second (full sweep)", sweep, "/s", 10_000, note="100,000 in 19.81 s"),
        Figure("idle sweep over 1,000,000 open pledges", idle, "s", 1.0, higher=False),
    ]
    lines = ["Shouxin benchmarks — AMD EPYC, 2 cores", "", "[1] {'pledges': 1000000}"]
    lines += ["[1] Publication sweep — 1,000,000 open pledges (sqlite) (59 s)", *(f.line() for f in figures)]
    lines += ["  checks: {'due': 100000}", "[4] Bulk import of pledges from CSV — 100,000 rows (10 s)"]
    lines.append(Figure("rows per second (parse + validate + insert)", rows, "/s", 20_000).line())
    return "\n".join(lines)


def test_figures_are_read_back_from_what_the_benchmarks_print() -> None:
    assert parse_figures(_output(5049.4, 0.000012, 11572.0)) == {
        "[1] publications per second (full sweep)": 5049.0,
        "[1] idle sweep over 1,000,000 open pledges": 1.2e-05,
        "[4] rows per second (parse + validate + insert)": 11572.0,
    }


def test_the_sides_alternate_so_a_drift_falls_on_both() -> None:
    assert list(alternate(3)) == ["old", "new", "new", "old", "old", "new"]


def test_each_pair_is_tabled_with_its_change() -> None:
    speeds = {"old": iter([4000.0, 3000.0]), "new": iter([5000.0, 6000.0])}
    measured = collect(2, lambda side: _output(next(speeds[side]), 0.2, 10_000.0))
    text = table(measured, "cbc257c")
    assert "| figure | cbc257c | this tree | change, pair by pair |" in text
    assert (
        "| [1] publications per second (full sweep) | 4,000 · 3,000 | 5,000 · 6,000 | +25% · +100% |" in text
    )
    assert "| [1] idle sweep over 1,000,000 open pledges | 0.2 · 0.2 | 0.2 · 0.2 | +0% · +0% |" in text


def test_an_unknown_revision_is_refused_before_anything_runs(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["no-such-revision-0000", "--only", "4"])
    assert stopped.value.code == 2
    assert "no-such-revision-0000 is not a commit of this repository" in capsys.readouterr().err

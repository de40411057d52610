"""Fault tests: the sweep killed with SIGKILL at random points, then re-run, loses and doubles nothing."""

from __future__ import annotations

from pathlib import Path

from bench.fault_sweep import drill


def test_sweep_killed_at_random_points_publishes_each_due_pledge_exactly_once(tmp_path: Path) -> None:
    result = drill(workdir=tmp_path, trials=20, pledges=15, seed=20260228, workers=3)
    assert result.failures == []
    # Most kills must land inside the sweep, or the drill proves nothing.
    assert result.interrupted >= 10, result

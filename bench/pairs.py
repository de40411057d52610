"""``python -m bench.pairs REV [--rounds N] [bench options]``: the same benchmarks run back to back on an
older commit and on this working tree, alternating, and their figures printed pair by pair.

This VM's speed moves by 10–40 % within minutes, so a figure is only compared with one measured next to
it: each round runs REV then this tree, the next round this tree then REV (A B B A …), so a drift in the
machine's speed falls on both sides alike. REV is checked out into a temporary git worktree and run with
this interpreter (its packages) from that directory, so its own ``bench`` and ``models`` are the ones
imported; the benchmarks' figures are read from what ``python -m bench`` prints, a format older commits
share. Nothing is written to docs/benchmarks.md: the pairs go into its rounds by hand, with the analysis.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

# A figure line of ``python -m bench`` (``bench.common.Figure.line``), and the header of each benchmark.
_FIGURE = re.compile(
    r"^  (?P<name>\S.*?)\s+(?P<value>-?[\d,]+(?:\.\d+)?(?:e[-+]?\d+)?) (?P<unit>\S*)\s+target "
)
_BENCH = re.compile(r"^\[(?P<number>\d)\] \S")

Figures = dict[str, float]


def parse_figures(output: str) -> Figures:
    """``{"[N] figure name": value}`` of every figure line in the output of ``python -m bench``."""
    figures: Figures = {}
    number = "?"
    for line in output.splitlines():
        if header := _BENCH.match(line):
            number = header["number"]
        elif figure := _FIGURE.match(line):
            figures[f"[{number}] {figure['name']}"] = float(figure["value"].replace(",", ""))
    return figures


def alternate(rounds: int) -> Iterator[str]:
    """Which side runs when: ``old``/``new``, then ``new``/``old`` the next round, and so on."""
    for index in range(rounds):
        yield from ("old", "new") if index % 2 == 0 else ("new", "old")


def collect(rounds: int, run: Callable[[str], str]) -> dict[str, list[Figures]]:
    """Each side's figures, round by round; ``run(side)`` returns what ``python -m bench`` printed."""
    measured: dict[str, list[Figures]] = {"old": [], "new": []}
    for side in alternate(rounds):
        measured[side].append(parse_figures(run(side)))
    return measured


def table(measured: dict[str, list[Figures]], old: str) -> str:
    """A Markdown table: each figure's runs on both sides and the change of each pair (new against old)."""
    names = [name for runs in measured["old"] + measured["new"] for name in runs]
    lines = [f"| figure | {old} | this tree | change, pair by pair |", "|---|---|---|---|"]
    for name in dict.fromkeys(names):
        before = [runs.get(name) for runs in measured["old"]]
        after = [runs.get(name) for runs in measured["new"]]
        changes = [
            f"{(b - a) / a:+.0%}" if a and b is not None else "—" for a, b in zip(before, after, strict=True)
        ]
        lines.append(f"| {name} | {_runs(before)} | {_runs(after)} | {' · '.join(changes)} |")
    return "\n".join(lines)


def _runs(values: Sequence[float | None]) -> str:
    return " · ".join("—" if v is None else f"{v:,.0f}" if v >= 100 else f"{v:,.3g}" for v in values)


@contextmanager
def worktree(rev: str) -> Iterator[Path]:
    """A detached checkout of ``rev`` in a temporary directory, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="shouxin-pair-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(path), rev], check=True, capture_output=True
        )
        try:
            yield path
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(path)], capture_output=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.pairs", description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the older commit, e.g. cbc257c")
    parser.add_argument("--rounds", type=int, default=2, help="pairs per figure (default 2)")
    args, bench_args = parser.parse_known_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be 1 or more")
    if subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"{args.rev}^{{commit}}"],
                      capture_output=True).returncode != 0:  # fmt: skip
        parser.error(f"{args.rev} is not a commit of this repository")
    command = [sys.executable, "-m", "bench", "--no-docs", *bench_args]
    with worktree(args.rev) as old_tree:
        trees = {"old": old_tree, "new": Path.cwd()}

        def run(side: str) -> str:
            print(f"… {side} ({args.rev if side == 'old' else 'this tree'})", flush=True)
            done = subprocess.run(command, cwd=trees[side], capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"python -m bench failed on the {side} side:\n{done.stdout}\n{done.stderr}")
            return done.stdout

        measured = collect(args.rounds, run)
    print(table(measured, args.rev))
    return 0


if __name__ == "__main__":
    sys.exit(main())

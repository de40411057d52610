"""Write measured figures into docs/benchmarks.md between markers, keeping the hand-written analysis.

Each benchmark has its own block per mode (full / quick), stamped with its date and commit, so running
one benchmark again (``--only N``) replaces its block and leaves the others' figures in place.
"""

from __future__ import annotations

from pathlib import Path

from bench.common import Result

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def render(result: Result, info: dict[str, str], *, quick: bool, db: str) -> str:
    dirty = " + uncommitted changes in models/ or api/" if info["dirty"] == "yes" else ""
    lines = [
        f"#### {result.number}. {result.title}{' (quick size)' if quick else ''}",
        "",
        f"{result.sizes}; measured {info['date']} on commit `{info['commit']}`{dirty}; {info['cpu']}, "
        f"{info['cores']} cores, {info['ram']} RAM, Python {info['python']}, SQLite {info['sqlite']}, "
        f"database {db}; {result.seconds:.0f} s including data generation.",
        "",
        "| figure | measured | target | result |",
        "|---|---|---|---|",
    ]
    for f in result.figures:
        note = f" ({f.note})" if f.note else ""
        verdict = "**MISS**" if f.passed is False else f.verdict
        lines.append(f"| {f.name}{note} | {_fmt(f.value)} {f.unit} | {f.target_text()} | {verdict} |")
    lines += [
        "",
        "Checks (the work was done): " + ", ".join(f"{k} = {v:,}" for k, v in result.checks.items()),
    ]
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def write_report(
    results: list[Result], info: dict[str, str], *, quick: bool, db: str, path: Path = DOC
) -> Path:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    # PostgreSQL runs keep their own blocks, so the SQLite figures stay next to them.
    mode = ("quick" if quick else "full") + ("-postgres" if db == "postgres" else "")
    for result in results:
        start, end = (
            f"<!-- bench:{mode}:{result.number}:start -->",
            f"<!-- bench:{mode}:{result.number}:end -->",
        )
        if start not in text or end not in text:
            text = text.rstrip() + f"\n\n{start}\n{end}\n"
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{render(result, info, quick=quick, db=db)}\n{end}{tail}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path

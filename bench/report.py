"""Write the measured figures into docs/benchmarks.md between markers, keeping the hand-written analysis."""

from __future__ import annotations

from pathlib import Path

from bench.common import Result

DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"

SKELETON = """# Benchmarks

`make bench` (`python -m bench`) runs the five benchmarks of issue 7 at full size; `python -m bench --quick`
runs them at CI size. Each prints its figure next to the target with PASS or MISS and rewrites the
matching results block below (the analysis sections are written by hand).

<!-- bench:full:start -->
<!-- bench:full:end -->

<!-- bench:quick:start -->
<!-- bench:quick:end -->
"""


def render(results: list[Result], info: dict[str, str], *, quick: bool, db: str) -> str:
    lines = [
        f"### {'Quick (CI-size)' if quick else 'Full-size'} run — {info['date']}",
        "",
        f"- Machine: {info['cpu']}, {info['cores']} cores, {info['ram']} RAM; {info['os']}",
        f"- Python {info['python']}, SQLite {info['sqlite']}; database: {db}",
        f"- Commit: `{info['commit']}`"
        + (" (with uncommitted changes in models/ or api/)" if info["dirty"] == "yes" else ""),
        "",
        "| # | benchmark | size | figure | measured | target | result |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for f in r.figures:
            value = _fmt(f.value)
            note = f" ({f.note})" if f.note else ""
            lines.append(
                f"| {r.number} | {r.title} | {r.sizes} | {f.name}{note} | {value} {f.unit} "
                f"| {f.target_text()} | {'**MISS**' if f.passed is False else f.verdict} |"
            )
    lines.append("")
    lines.append("Checks (the work was really done): " + "; ".join(
        f"#{r.number} " + ", ".join(f"{k}={v:,}" for k, v in r.checks.items()) for r in results
    ) + ".")  # fmt: skip
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
    text = path.read_text(encoding="utf-8") if path.exists() else SKELETON
    key = "quick" if quick else "full"
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    if start not in text or end not in text:
        text = text.rstrip() + f"\n\n{start}\n{end}\n"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    block = render(results, info, quick=quick, db=db)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{head}{start}\n{block}\n{end}{tail}", encoding="utf-8")
    return path

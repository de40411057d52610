"""What every benchmark shares: figures, a fresh database with departments, fast bulk data, the machine."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

import models.tables  # noqa: F401  (every table on the metadata)
from models.accounts import import_departments
from models.db import make_engine
from models.org import Department, DepartmentCreate, DepartmentLevel

# A Monday and a working day; 2026 is covered by the bundled calendar.
TODAY = dt.date(2026, 3, 2)
PG_ENV = "SHOUXIN_BENCH_PG_URL"


@dataclass
class Figure:
    """One measured figure next to its target; ``higher`` says which way is better."""

    name: str
    value: float
    unit: str
    target: float | None = None
    higher: bool = True
    note: str = ""

    @property
    def passed(self) -> bool | None:
        if self.target is None:
            return None
        return self.value >= self.target if self.higher else self.value < self.target

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "MISS", None: "info"}[self.passed]

    def target_text(self) -> str:
        if self.target is None:
            return "—"
        return f"{'≥' if self.higher else '<'} {_num(self.target)} {self.unit}"

    def line(self) -> str:
        extra = f"  ({self.note})" if self.note else ""
        value = f"{_num(self.value):>12} {self.unit:<6}"
        return f"  {self.name:<52} {value} target {self.target_text():<18} {self.verdict}{extra}"


@dataclass
class Result:
    """The figures of one benchmark, with the sizes it ran at."""

    number: int
    title: str
    sizes: str
    figures: list[Figure] = field(default_factory=list)
    seconds: float = 0.0
    checks: dict[str, int] = field(default_factory=dict)


def _num(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}"
    return f"{value:.4g}"


@contextmanager
def fresh_database(db: str = "sqlite", keep: Path | None = None) -> Iterator[Engine]:
    """A new, empty database with every table and a few departments; dropped afterwards."""
    if db == "postgres":
        url = os.environ.get(PG_ENV)
        if not url:
            raise SystemExit(f"--db postgres needs {PG_ENV}=postgresql+psycopg://user@127.0.0.1:PORT/db")
        engine = make_engine(url)
        SQLModel.metadata.drop_all(engine)
        SQLModel.metadata.create_all(engine)
        try:
            _departments(engine)
            yield engine
        finally:
            engine.dispose()
        return
    with tempfile.TemporaryDirectory(prefix="shouxin-bench-") as tmp:
        path = keep or Path(tmp) / f"bench-{uuid.uuid4().hex[:8]}.db"
        engine = make_engine(f"sqlite:///{path}", create=True)
        SQLModel.metadata.create_all(engine)
        try:
            _departments(engine)
            yield engine
        finally:
            engine.dispose()


BENCH_DEPARTMENTS = [
    DepartmentCreate(
        code="FGW", name="基准市发展和改革委员会", level=DepartmentLevel.CITY, email="fgw@b.gov.cn"
    ),
    DepartmentCreate(
        code="ZJJ", name="基准市住房和城乡建设局", level=DepartmentLevel.CITY, competent_code="FGW"
    ),
    DepartmentCreate(code="SPJ", name="基准市行政审批局", level=DepartmentLevel.CITY, competent_code="FGW"),
]


def _departments(engine: Engine) -> None:
    with Session(engine) as session:
        import_departments(session=session, items=BENCH_DEPARTMENTS)
        session.commit()


def department_ids(engine: Engine) -> list[int]:
    with Session(engine) as session:
        return [int(d) for d in session.execute(text("SELECT id FROM department ORDER BY id")).scalars()]


def series(engine: Engine, n: int) -> tuple[str, str]:
    """(WITH prefix, FROM clause) yielding ``i`` = 1..n, generated inside the database."""
    if engine.dialect.name == "postgresql":
        return "", f"generate_series(1, {int(n)}) AS s(i)"
    return f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {int(n)}) ", "s"


def fake_hash(engine: Engine) -> str:
    """A 64-hex-digit SQL expression, different per row."""
    if engine.dialect.name == "postgresql":
        return "md5(random()::text) || md5(random()::text)"
    return "lower(hex(randomblob(32)))"


def pad(engine: Engine, expr: str, width: int) -> str:
    if engine.dialect.name == "postgresql":
        return f"lpad(({expr})::text, {width}, '0')"
    return f"printf('%0{width}d', {expr})"


def enum(engine: Engine, expr: str, type_name: str) -> str:
    """``expr`` cast to the PostgreSQL enum type SQLAlchemy created (SQLite stores the name as text)."""
    return f"({expr})::{type_name}" if engine.dialect.name == "postgresql" else expr


def analyze(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))


class Timer:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


# ---------------------------------------------------------------------------------------------------
# The machine, for docs/benchmarks.md
# ---------------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    import sqlite3

    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": ram,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "os": f"{platform.system()} {platform.release()}",
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": "yes"
        if _git("status", "--porcelain", "--untracked-files=no", "--", "models", "api")
        else "no",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=Path(__file__).parent.parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def department_names_by_code(engine: Engine) -> dict[str, int]:
    with Session(engine) as session:
        return {d.code: int(d.id or 0) for d in session.query(Department).all()}

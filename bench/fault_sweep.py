"""Fault drill: SIGKILL the publication sweep at random points, re-run it, check nothing is lost or doubled.

Each trial copies a prepared SQLite file (due pledges, nothing swept yet), starts ``models.publication.sweep``
in a child process (``python -c``), kills it with SIGKILL after a random delay, then runs the sweep to
completion and checks: every due pledge published exactly once, with exactly one ``publish`` event, one
breach and its one ``create`` event, one ``pledge_published`` outbox row and one platform document, and
the audit chain verifies.

    python -m bench.fault_sweep --trials 200 --pledges 400     # the long version
    (tests/test_faults.py runs 20 trials over 30 pledges in the test suite)
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
DEADLINE = dt.date(2026, 2, 12)
SWEEP_DAY = dt.date(2026, 2, 28)  # the 7th working day after DEADLINE (a make-up working Saturday)
BATCH = 5

CHILD = """
import datetime as dt, sys
from models.db import make_engine
from models.publication import sweep
from models.workflow import Actor
engine = make_engine(sys.argv[1])
# A dry run first loads every lazily imported module, so the kill lands in the writing sweep itself.
day = dt.date.fromisoformat(sys.argv[2])
sweep(engine=engine, today=day, actor=Actor.system("warm"), dry_run=True)
print("ready", flush=True)
sweep(engine=engine, today=day, actor=Actor.system("killed"), batch_size=int(sys.argv[3]))
print("done", flush=True)
"""


def build_template(path: Path, pledges: int) -> None:
    """A migrated database with departments and ``pledges`` pledges due for publication on SWEEP_DAY."""
    from models.accounts import import_departments
    from models.calendar import load_calendar
    from models.db import make_engine
    from models.lifecycle import Role
    from models.org import DepartmentCreate, DepartmentLevel
    from models.pledge import PledgeCreate, PledgorKind
    from models.pledges import register_pledge
    from models.schema import upgrade
    from models.workflow import Actor

    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    actor = Actor(name="督办员", role=Role.SUPERVISOR)
    with Session(engine) as session:
        import_departments(
            session=session,
            items=[
                DepartmentCreate(
                    code="D01", name="市住房和城乡建设局", level=DepartmentLevel.CITY, email=None
                )
            ],
        )
        calendar = load_calendar(session=session)
        for n in range(pledges):
            data = PledgeCreate(
                pledgor_kind=PledgorKind.INDIVIDUAL,
                pledgor_name=f"承诺人{n:04d}",
                pledgor_credit_code=None,
                pledgor_email=f"p{n}@example.com",
                matter="建筑工程施工许可证",
                obligation="施工图审查合格书",
                deadline=DEADLINE,
                authority_code="D01",
                legal_basis="《建筑法》第八条",
            )
            register_pledge(
                session=session, data=data, actor=actor, today=dt.date(2026, 1, 5), calendar=calendar
            )
        session.commit()
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


def run_child(db: Path, kill_after: float | None) -> bool:
    """Run the sweep in a child; SIGKILL it ``kill_after`` s after it is ready. True if killed mid-run."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, f"sqlite:///{db}", SWEEP_DAY.isoformat(), str(BATCH)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.wait()
        raise RuntimeError("the sweep child failed to start")
    ready = time.monotonic()
    if kill_after is None:
        child.wait()
        run_child.last_span = time.monotonic() - ready  # type: ignore[attr-defined]
        return False
    time.sleep(kill_after)
    finished = child.poll() is not None
    if not finished:
        child.send_signal(signal.SIGKILL)
    child.wait()
    return not finished


def problems(db: Path, pledges: int) -> list[str]:
    """What is wrong after the re-run (empty when every invariant holds)."""
    from models.audit_verify import verify_audit
    from models.db import make_engine

    engine = make_engine(f"sqlite:///{db}")
    found: list[str] = []
    checks = {
        "pledges not published": "SELECT count(*) FROM pledge WHERE state != 'PUBLISHED'",
        "publish events != 1": """SELECT count(*) FROM pledge p WHERE (SELECT count(*) FROM case_event e
            WHERE e.case_kind='pledge' AND e.case_id=p.id AND e.event='publish') != 1""",
        "breaches != 1": """SELECT count(*) FROM pledge p
            WHERE (SELECT count(*) FROM published_breach b WHERE b.pledge_id=p.id) != 1""",
        "breach create events != 1": """SELECT count(*) FROM published_breach b WHERE (SELECT count(*)
            FROM case_event e WHERE e.case_kind='breach' AND e.case_id=b.id) != 1""",
        "publish notifications != 1": """SELECT count(*) FROM pledge p WHERE (SELECT count(*)
            FROM notification n WHERE n.template='pledge_published'
            AND n.idempotency_key LIKE 'pledge:' || p.id || ':publish:%') != 1""",
        "platform documents != 1": """SELECT count(*) FROM published_breach b WHERE (SELECT count(*)
            FROM platform_document d WHERE d.breach_id=b.id AND d.kind='PUBLISH') != 1""",
    }
    with engine.connect() as conn:
        for label, sql in checks.items():
            bad = conn.execute(text(sql)).scalar_one()
            if bad:
                found.append(f"{label}: {bad}")
        total = conn.execute(text("SELECT count(*) FROM published_breach")).scalar_one()
        if total != pledges:
            found.append(f"breaches: {total}, expected {pledges}")
    with Session(engine) as session:
        report = verify_audit(session=session)
    if not report.ok:
        found.extend(report.lines())
    engine.dispose()
    return found


@dataclass
class DrillResult:
    trials: int
    interrupted: int
    failures: list[str]
    seconds: float
    sweep_seconds: float


def drill(*, workdir: Path, trials: int, pledges: int, seed: int, workers: int = 4) -> DrillResult:
    from models.db import make_engine
    from models.publication import sweep
    from models.workflow import Actor

    started = time.monotonic()
    template = workdir / "template.db"
    build_template(template, pledges)
    # Calibrate: how long a whole sweep takes in a child, so the kills land across the whole run.
    calibration = workdir / "calibrate.db"
    shutil.copy(template, calibration)
    run_child(calibration, None)
    span: float = run_child.last_span  # type: ignore[attr-defined]
    rng = random.Random(seed)
    delays = [rng.uniform(0, span) for _ in range(trials)]

    def trial(n: int) -> tuple[bool, list[str]]:
        db = workdir / f"trial-{n}.db"
        shutil.copy(template, db)
        killed = run_child(db, delays[n])
        engine = make_engine(f"sqlite:///{db}")
        sweep(engine=engine, today=SWEEP_DAY, actor=Actor.system("rerun"), batch_size=BATCH)
        engine.dispose()
        found = [f"trial {n} (killed after {delays[n]:.2f} s): {p}" for p in problems(db, pledges)]
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        return killed, found

    # Trials are independent files; running a few at once keeps the drill inside the test budget.
    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(trial, range(trials)))
    interrupted = sum(killed for killed, _ in results)
    failures = [f for _, found in results for f in found]
    return DrillResult(trials, interrupted, failures, time.monotonic() - started, span)


def main() -> None:
    import tempfile

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--trials", type=int, default=200)
    parser.add_argument("--pledges", type=int, default=400)
    parser.add_argument("--seed", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = drill(workdir=Path(tmp), trials=args.trials, pledges=args.pledges, seed=args.seed)
    print(
        f"{result.trials} trials, {result.interrupted} killed mid-sweep, {len(result.failures)} failures, "
        f"{result.seconds:.1f} s (one sweep {result.sweep_seconds:.2f} s)"
    )
    for failure in result.failures:
        print(failure)
    sys.exit(1 if result.failures else 0)


if __name__ == "__main__":
    main()

"""Benchmarks 1 and 2: the publication sweep over a million open pledges, and the naive per-pledge flow.

Data is generated inside the database (one INSERT … SELECT over a generated series) in the shape the
product leaves it: open pledges with their ``register`` event, the due ones already overdue with their
``mark_overdue`` event, so the sweep continues real hash chains. The sweep itself is the product's code:
``models.publication.sweep`` for benchmark 1, ``run_batch`` (what each flow task calls) for benchmark 2.
"""

from __future__ import annotations

import datetime as dt
import logging
import statistics
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.common import TODAY, Figure, Result, Timer, analyze, enum, fake_hash, fresh_database, pad, series
from models.calendar import WorkCalendar, load_calendar
from models.db import make_engine
from models.id_sets import chunks
from models.lifecycle import PledgeState
from models.publication import compute_publication_day, run_batch, sweep
from models.settings import get_settings
from models.workflow import Actor

# Deadlines spread over many days, as in real data (the query planner's statistics depend on it): due
# pledges over 60 days whose 7th working days are all before TODAY, open ones over 150 days starting far
# enough ahead that no reminder or warning is due on TODAY.
DUE_DEADLINES = [dt.date(2025, 12, 1) + dt.timedelta(days=k) for k in range(60)]
OPEN_DEADLINES = [dt.date(2026, 3, 20) + dt.timedelta(days=k) for k in range(150)]
CREATED = "2026-01-05 01:00:00.000000"


def _calendar(engine: Engine) -> WorkCalendar:
    with Session(engine) as session:
        return load_calendar(session=session)


def seed_pledges(engine: Engine, total: int, due_every: int = 10, start: int = 1) -> dict[str, int]:
    """``total`` open pledges with ids start..start+total-1; every ``due_every``-th is overdue and past its
    publication day (``due_every=1``: all of them). Returns counts."""
    calendar = _calendar(engine)
    days = [
        {"k": k, "deadline": d, "day": compute_publication_day(calendar, d)}
        for k, d in [*enumerate(DUE_DEADLINES), *enumerate(OPEN_DEADLINES, start=100)]
    ]
    assert all(row["day"] is not None for row in days)
    assert max(compute_publication_day(calendar, d) or dt.date.max for d in DUE_DEADLINES) <= TODAY
    overdue, registered = PledgeState.OVERDUE.name, PledgeState.REGISTERED.name
    with_, source = series(engine, total)
    pg = engine.dialect.name == "postgresql"
    created = dt.datetime(2026, 1, 5, 1, tzinfo=dt.UTC) if pg else CREATED
    pid = f"(i + {start - 1})"
    is_due = f"({pid} % {due_every} = 0)"
    params: dict[str, Any] = {"created": created, "version": calendar.version}
    day_key = (
        f"CASE WHEN {is_due} THEN {pid} % {len(DUE_DEADLINES)} ELSE 100 + {pid} % {len(OPEN_DEADLINES)} END"
    )
    code = pad(engine, pid, 16)
    state = enum(engine, f"CASE WHEN {is_due} THEN '{overdue}' ELSE '{registered}' END", "pledgestate")
    kind = enum(engine, "'ENTERPRISE'", "pledgorkind")
    with engine.begin() as conn:
        first_dept = conn.execute(text("SELECT min(id) FROM department")).scalar_one()
        conn.execute(text("CREATE TABLE bench_day (k INTEGER PRIMARY KEY, deadline DATE, day DATE)"))
        conn.execute(text("INSERT INTO bench_day VALUES (:k, :deadline, :day)"), days)
        conn.execute(
            text(
                f"""{with_}INSERT INTO pledge (id, number, year, seq, state, version, authority_id,
                publication_day, calendar_version, stage_seq, created_at, updated_at, pledgor_kind,
                pledgor_name, pledgor_credit_code, pledgor_email, matter, obligation, deadline, legal_basis)
                SELECT {pid}, 'CN-2026-' || {pad(engine, pid, 7)}, 2026, {pid},
                  {state},
                  CASE WHEN {is_due} THEN 2 ELSE 1 END, {first_dept} + ({pid} % 3),
                  d.day, :version,
                  CASE WHEN {is_due} THEN 1 ELSE 0 END, :created, :created, {kind},
                  '基准建设工程有限公司' || {pid}, '91' || {code},
                  CASE WHEN {pid} % 2 = 0 THEN 'p' || {pid} || '@example.com' END,
                  '建筑工程施工许可证', '施工图审查合格书',
                  d.deadline, '告知承诺书'
                FROM {source} JOIN bench_day d ON d.k = {day_key}"""
            ),
            params,
        )
        conn.execute(text("DROP TABLE bench_day"))
        _seed_events(conn, engine, total, pid, is_due, params)
        conn.execute(
            text("UPDATE case_counter SET last = :n WHERE prefix = 'CN' AND year = 2026"),
            {"n": start + total - 1},
        )
    analyze(engine)
    return {"pledges": total, "due": total // due_every if due_every > 1 else total}


def _seed_events(
    conn: Any, engine: Engine, total: int, pid: str, is_due: str, params: dict[str, Any]
) -> None:
    """The ``register`` event of every pledge and the ``mark_overdue`` event of the due ones."""
    with_, source = series(engine, total)
    h = fake_hash(engine)
    columns = (
        "case_kind, case_id, case_number, seq, event, from_state, to_state, actor_id, actor_name,"
        " actor_role, at, note, data, prev_hash, hash"
    )
    conn.execute(
        text(
            f"""{with_}INSERT INTO case_event ({columns})
            SELECT 'pledge', {pid}, 'CN-2026-' || {pad(engine, pid, 7)}, 1, 'register', NULL, 'registered',
              NULL, '基准导入', 'system', :created, NULL, '{{}}', '', {h} FROM {source}"""
        ),
        params,
    )
    conn.execute(
        text(
            f"""{with_}INSERT INTO case_event ({columns})
            SELECT 'pledge', {pid}, 'CN-2026-' || {pad(engine, pid, 7)}, 2, 'mark_overdue', 'registered',
              'overdue', NULL, '系统自动', 'system', :created, NULL, '{{}}', {h}, {h}
            FROM {source} WHERE {is_due}"""
        ),
        params,
    )


def count(engine: Engine, sql: str, **params: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql), params).scalar_one())


def published_counts(engine: Engine) -> dict[str, int]:
    return {
        "breaches": count(engine, "SELECT count(*) FROM published_breach"),
        "publish_events": count(engine, "SELECT count(*) FROM case_event WHERE event = 'publish'"),
        "breach_events": count(engine, "SELECT count(*) FROM case_event WHERE case_kind = 'breach'"),
        "mails": count(engine, "SELECT count(*) FROM notification WHERE template = 'pledge_published'"),
        "platform_documents": count(engine, "SELECT count(*) FROM platform_document"),
    }


class PeakMemory:
    """Peak resident memory of this process while the block runs.

    Linux lets a process reset its high-water mark (``echo 5 > /proc/self/clear_refs``), so VmHWM then
    measures only the block; elsewhere a sampling thread reads the current RSS every 20 ms.
    """

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._hwm = False

    def __enter__(self) -> PeakMemory:
        try:
            Path("/proc/self/clear_refs").write_text("5")
            self._hwm = True
        except OSError:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        if self._hwm:
            self.peak_mb = _status_kb("VmHWM") / 1024
            return
        self._stop.set()
        if self._thread:
            self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, _status_kb("VmRSS") / 1024)


def _status_kb(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def bench_sweep(
    *, pledges: int = 1_000_000, db: str = "sqlite", log: Callable[[str], None] = print
) -> Result:
    """Benchmark 1: N open pledges, 10% due → the sweep publishes all of them; then an idle sweep."""
    result = Result(1, "Publication sweep", f"{pledges:,} open pledges, {pledges // 10:,} due ({db})")
    with fresh_database(db) as engine:
        t = Timer()
        seeded = seed_pledges(engine, pledges)
        log(f"  seeded {pledges:,} pledges and their events in {t.elapsed:.1f} s")
        actor = Actor.system()
        with PeakMemory() as memory:
            t = Timer()
            report = sweep(engine=engine, today=TODAY, actor=actor)
            busy = t.elapsed
        t = Timer()
        idle = sweep(engine=engine, today=TODAY, actor=actor)
        idle_seconds = t.elapsed
        counts = published_counts(engine)
        due = seeded["due"]
        result.checks = {"due": due, "published": report.counts["publish"], **counts,
                         "idle_sweep_work": sum(idle.counts.values())}  # fmt: skip
        result.figures = [
            Figure("publications per second (full sweep)", due / busy, "/s", 10_000,
                   note=f"{due:,} in {busy:.2f} s, batch {get_settings().batch_size}"),
            Figure(f"idle sweep over {pledges:,} open pledges", idle_seconds, "s", 1.0, higher=False),
            Figure("peak memory during the sweep (RSS)", memory.peak_mb, "MB", 500, higher=False),
        ]  # fmt: skip
    return result


# ---------------------------------------------------------------------------------------------------
# Benchmark 2: the same publications, one Prefect flow run per pledge vs the batch path
# ---------------------------------------------------------------------------------------------------


@lru_cache
def _engine(url: str) -> Engine:
    return make_engine(url)


def _naive_flow() -> Any:
    from prefect import flow

    @flow(name="bench-publish-one-pledge", persist_result=False)
    def publish_one(url: str, pledge_id: int, today: dt.date) -> int:
        """The naive design: a whole flow run to publish one pledge (what the product must not do)."""
        from flows._runtime import current_run_id

        actor = Actor.system(current_run_id())
        return run_batch(engine=_engine(url), step="publish", ids=[pledge_id], today=today, actor=actor)

    return publish_one


def bench_naive_vs_batch(
    *, publications: int = 1000, db: str = "sqlite", log: Callable[[str], None] = print
) -> Result:
    """Benchmark 2. Needs a Prefect API: the caller runs it under ``prefect_test_harness`` or a server."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    result = Result(
        2, "One flow run per pledge vs the batch path", f"{publications:,} publications each ({db})"
    )
    with fresh_database(db) as engine:
        # Two warm-up pledges besides the measured ones: each side first publishes one pledge untimed (the
        # Prefect client's first round trip, SQLAlchemy's first compile of each statement).
        # The batch path is timed on five sets of ``publications`` and the median taken: one set takes a
        # fraction of a second, so a single timing is at the mercy of the machine, unlike the naive path's
        # minutes, which average themselves.
        sets = 5
        seed_pledges(engine, (sets + 1) * publications + 2, due_every=1)
        ids = list(range(1, (sets + 1) * publications + 3))
        warm_batch, warm_naive = ids[-2], ids[-1]
        batch_sets = [ids[k * publications : (k + 1) * publications] for k in range(sets)]
        naive_ids = ids[sets * publications : (sets + 1) * publications]
        actor = Actor.system()
        publish_one = _naive_flow()
        url = engine.url.render_as_string(hide_password=False)
        # The fastest naive set-up: heartbeats off (a sync flow otherwise waits ~1 s for its heartbeat).
        quiet = logging.getLogger("prefect.flow_runs")
        level = quiet.level
        quiet.setLevel(logging.WARNING)  # two INFO lines per run would dominate the output
        with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            # The naive warm-up first: it waits until the Prefect server is serving, so its start-up work
            # does not run alongside the timed batch path.
            publish_one(url, warm_naive, TODAY)
            run_batch(engine=engine, step="publish", ids=[warm_batch], today=TODAY, actor=actor)
            timings, batched = [], 0
            for batch_ids in batch_sets:
                t = Timer()
                batched += sum(
                    run_batch(engine=engine, step="publish", ids=part, today=TODAY, actor=actor)
                    for part in chunks(batch_ids, get_settings().batch_size)
                )
                timings.append(t.elapsed)
            batch_seconds = statistics.median(timings)
            t = Timer()
            naive = sum(publish_one(url, pid, TODAY) for pid in naive_ids)
            naive_seconds = t.elapsed
        quiet.setLevel(level)
        _engine.cache_clear()
        each = ", ".join(f"{x:.3f}" for x in timings)
        log(f"  batch {each} s (median {batch_seconds:.3f}), naive {naive_seconds:.1f} s")
        measured = {k: v - 2 for k, v in published_counts(engine).items()}  # less the two warm-ups
        result.checks = {"batch_published": batched, "naive_published": naive, **measured}
        batch_rate, naive_rate = publications / batch_seconds, publications / naive_seconds
        result.figures = [
            Figure(
                "batch path (run_batch), publications/s",
                batch_rate,
                "/s",
                note=f"median of {sets} sets of {publications:,}",
            ),
            Figure("one flow run per pledge, publications/s", naive_rate, "/s"),
            Figure("speed-up of the batch path", batch_rate / naive_rate, "×", 1000),
        ]
    return result

"""Benchmark 5: the public register over a million published records.

Queries go through ``models.register.list_register`` (what ``GET /public/breaches`` calls): search by
credit code, by name prefix, and deep pages reached by following the keyset cursor; one more set goes
through the HTTP route in-process (FastAPI TestClient) so serialisation is counted once too.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.common import TODAY, Figure, Result, Timer, analyze, enum, fresh_database, pad, percentile, series
from models.breach import Severity
from models.lifecycle import BreachState
from models.register import RegisterQuery, list_register
from models.uscc import make_credit_code

FIRST_DAY = dt.date(2025, 3, 1)
PAGE = 20  # the public route's default page size


def seed_register(engine: Engine, total: int) -> list[str]:
    """``total`` shown records over ~365 decision days; returns the valid credit codes of some subjects."""
    pg = engine.dialect.name == "postgresql"
    with_, source = series(engine, total)
    now: Any = dt.datetime(2026, 3, 1, tzinfo=dt.UTC) if pg else "2026-03-01 00:00:00.000000"
    day = "(CAST(:first AS date) + (i % 365))" if pg else "date(:first, '+' || (i % 365) || ' days')"
    end = (
        "(CAST(:first AS date) + (i % 365) + 365)"
        if pg
        else "date(:first, '+' || (i % 365 + 365) || ' days')"
    )
    severity = enum(engine, f"'{Severity.GENERAL.name}'", "severity")
    state = enum(engine, f"'{BreachState.PUBLISHED.name}'", "breachstate")
    with engine.begin() as conn:
        first_dept = conn.execute(text("SELECT min(id) FROM department")).scalar_one()
        conn.execute(
            text(
                f"""{with_}INSERT INTO published_breach (id, number, source_kind, subject_kind, subject_name,
                subject_credit_code, matter, facts, basis, department_id, severity, decision_date,
                publication_end, repair_earliest, state, version, stage_seq, created_at, updated_at)
                SELECT i, 'GS-2025-' || {pad(engine, "i", 7)}, 'pledge', 'enterprise',
                  '公示主体' || (i % 997) || '号建设有限公司' || i, '92' || {pad(engine, "i", 16)},
                  '建筑工程施工许可证', '未在承诺期限内履行承诺', '告知承诺书', {first_dept} + (i % 3),
                  {severity}, {day}, {end}, {end}, {state}, 1, 0,
                  :now, :now
                FROM {source}"""
            ),
            {"first": FIRST_DAY, "now": now},
        )
        # Real, checkable credit codes on every 1000th record: the ones the searches use.
        codes = []
        for ident in range(1000, total + 1, 1000) or [1]:
            code = make_credit_code(f"9133{ident:013d}")
            conn.execute(
                text("UPDATE published_breach SET subject_credit_code = :c WHERE id = :i"),
                {"c": code, "i": ident},
            )
            codes.append(code)
    analyze(engine)
    return codes


def _time(calls: list[Callable[[], Any]]) -> list[float]:
    out = []
    for call in calls:
        t = Timer()
        call()
        out.append(t.elapsed * 1000)
    return out


def _deep_pages(session: Session, pages: int) -> tuple[list[float], int]:
    """Follow the cursor from the first page ``pages`` times; returns per-page ms and rows seen."""
    timings, cursor, seen = [], None, 0
    for _ in range(pages):
        t = Timer()
        page, cursor = list_register(
            session=session, query=RegisterQuery(after=cursor, limit=PAGE), today=TODAY
        )
        timings.append(t.elapsed * 1000)
        seen += len(page)
        if cursor is None:
            break
    return timings, seen


def bench_register(
    *, records: int = 1_000_000, queries: int = 200, db: str = "sqlite", log: Callable[[str], None] = print
) -> Result:
    result = Result(5, "Public register search and keyset paging", f"{records:,} published records ({db})")
    rng = random.Random(7)
    with fresh_database(db) as engine:
        t = Timer()
        codes = seed_register(engine, records)
        log(f"  seeded {records:,} records in {t.elapsed:.1f} s")
        with Session(engine) as session:
            by_code = _time([
                partial(list_register, session=session, query=RegisterQuery(credit_code=c), today=TODAY)
                for c in (rng.choice(codes) for _ in range(queries))
            ])  # fmt: skip
            prefixes = [f"公示主体{rng.randrange(997)}号" for _ in range(queries)]
            by_name = _time([
                partial(list_register, session=session, query=RegisterQuery(name=p), today=TODAY)
                for p in prefixes
            ])  # fmt: skip
            pages, seen = _deep_pages(session, max(10, min(records // PAGE, 2000)))
            hits = len(
                list_register(session=session, query=RegisterQuery(credit_code=codes[0]), today=TODAY)[0]
            )
        http, http_hits = _http_pages(engine, codes, rng, queries // 4 or 1)
        searches = (queries // 4 or 1) // 2
        result.checks = {"records": records, "code_hits": hits, "rows_paged": seen,
                         "http_code_hits": http_hits, "http_code_searches": searches}  # fmt: skip
        result.figures = [
            Figure("search by credit code, p99", percentile(by_code, 99), "ms", 50, higher=False),
            Figure("search by name prefix, p99", percentile(by_name, 99), "ms", 50, higher=False),
            Figure(f"keyset pages ({PAGE} rows, {len(pages):,} deep), p99", percentile(pages, 99), "ms", 50,
                   higher=False, note=f"last page {pages[-1]:.1f} ms"),
            Figure("HTTP GET /public/breaches (in-process), p99", percentile(http, 99), "ms", 50,
                   higher=False),
        ]  # fmt: skip
    return result


def _http_pages(engine: Engine, codes: list[str], rng: random.Random, n: int) -> tuple[list[float], int]:
    """Timings of ``n`` public register requests (paging and credit-code searches), and how many of the
    searches found their record (every one should: the check that the figure measures real answers)."""
    from fastapi.testclient import TestClient

    from api.main import API_PREFIX, create_app
    from models.clock import Clock

    # The register's day is the seeded one, as for the in-process queries: the public routes show only the
    # records not yet past their end date on the clock's today.
    clock = replace(Clock.from_settings(), pinned_today=TODAY)
    app = create_app(engine=engine, clock=clock, check_schema=False)
    timings, hits = [], 0
    with TestClient(app) as client:
        url = f"{API_PREFIX}/public/breaches"
        client.get(url).raise_for_status()  # warm-up: the first request builds the app's caches
        cursor = None
        for i in range(n):
            params: dict[str, Any] = (
                {"credit_code": rng.choice(codes)} if i % 2 else {"after": cursor} if cursor else {}
            )
            t = Timer()
            response = client.get(url, params=params)
            timings.append(t.elapsed * 1000)
            response.raise_for_status()
            answer = response.json()
            hits += bool(i % 2 and answer["items"])
            cursor = answer.get("next_cursor") or cursor
    return timings, hits

"""Benchmark 4: bulk import of pledges from a generated CSV through
``models.pledges.importing.import_pledges``, the service behind both the ``import_pledges`` flow and
``shouxin pledges import``.

The figure covers the whole product path for a file: decoding and parsing the CSV, per-row validation
(kinds, lengths, e-mail, USCC check character, dates, department), the credit check, the duplicate check,
and the bulk insert of pledges, their ``register`` events and the outbox mails, in one transaction (as
the CLI runs it; the flow commits after each chunk of 5,000 rows, a few commits more). One row in a
hundred is deliberately bad, so the error path is part of the figure too. One process does all of it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

from sqlmodel import Session

from bench.common import TODAY, Figure, Result, Timer, fresh_database
from models.calendar import load_calendar
from models.lifecycle import Role
from models.pledges.import_rows import read_import_file
from models.pledges.importing import import_pledges
from models.uscc import make_credit_code
from models.workflow import Actor

HEADER = [
    "承诺人类型",
    "承诺人名称",
    "统一社会信用代码",
    "电子邮箱",
    "承诺事项",
    "承诺内容",
    "承诺期限",
    "受理部门代码",
    "依据",
]


def make_csv(rows: int) -> tuple[bytes, int]:
    """A UTF-8 CSV (with BOM, as Excel writes it) of ``rows`` pledges; returns (content, bad rows)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    bad = 0
    for i in range(1, rows + 1):
        deadline = dt.date(2026, 4, 1) + dt.timedelta(days=i % 200)
        when = deadline.isoformat() if i % 3 else f"{deadline.year}年{deadline.month}月{deadline.day}日"
        if i % 100 == 0:
            when, bad = "2026-13-45", bad + 1
        kind = "个人" if i % 10 == 1 else "企业"
        code = "" if kind == "个人" else make_credit_code(f"9111{i:013d}")
        email = f"p{i}@example.com" if i % 2 else ""
        writer.writerow(
            [kind, f"导入测试有限公司{i}", code, email, "建筑工程施工许可证", "施工图审查合格书", when,
             ("ZJJ", "SPJ")[i % 2], "告知承诺书"]
        )  # fmt: skip
    return ("\ufeff" + out.getvalue()).encode("utf-8"), bad


def bench_import(*, rows: int = 100_000, db: str = "sqlite", log: Callable[[str], None] = print) -> Result:
    result = Result(4, "Bulk import of pledges from CSV", f"{rows:,} rows, 1% invalid ({db})")
    content, bad = make_csv(rows)
    log(f"  CSV: {len(content) / 1e6:.1f} MB")
    with fresh_database(db) as engine, Session(engine, expire_on_commit=False) as session:
        calendar = load_calendar(session=session)
        t = Timer()
        report = import_pledges(
            session=session,
            rows=read_import_file(content, "bench.csv"),
            actor=Actor(name="批量导入（基准）", role=Role.ADMIN),
            source_name="bench.csv",
            today=TODAY,
            calendar=calendar,
        )
        session.commit()
        seconds = t.elapsed
        result.checks = {"total": report.total, "imported": report.imported, "failed": report.failed_rows,
                         "expected_failed": bad}  # fmt: skip
        result.figures = [
            Figure("rows per second (parse + validate + insert)", rows / seconds, "/s", 20_000,
                   note=f"{rows:,} rows in {seconds:.2f} s"),
        ]  # fmt: skip
    return result

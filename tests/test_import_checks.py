"""Validating an import on a second core (models/pledges/import_checks.py): the worker's chunks are the
ones this process would have validated, in file order; a worker that dies leaves the rest to this process;
and a whole import validated partly by the worker reports and stores what a single pass does."""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest
from sqlmodel import Session, col, select

import models.pledges.import_checks as checks
import models.pledges.importing as service
from models.calendar import load_calendar
from models.lifecycle import Role
from models.pledge import Pledge
from models.pledges.import_checks import CheckedChunk, check_rows, checked_chunks, with_worker
from models.pledges.importing import import_pledges
from models.uscc import make_credit_code
from models.workflow import Actor
from tests.conftest import Staff

TODAY = dt.date(2026, 3, 2)
AUTHORITIES = {"D01": 11, "D02": 12}


def _raw(i: int) -> dict[str, Any]:
    bad = i % 5 == 0
    return {
        "pledgor_kind": "个人" if i % 3 == 0 else "企业",
        "pledgor_name": f"校验进程公司{i}",
        "pledgor_credit_code": "" if i % 3 == 0 else make_credit_code(f"91110000{i:09d}"),
        "pledgor_email": f"p{i}@example.com" if i % 2 else "",
        "matter": "建筑工程施工许可证",
        "obligation": "施工图审查合格书",
        "deadline": "2026-13-45" if bad else f"2026年5月{1 + i % 28}日",
        "authority_code": ("D01", "D02")[i % 2],
    }


def _chunks(count: int, size: int) -> list[list[tuple[int, dict[str, Any]]]]:
    rows = [(i + 2, _raw(i)) for i in range(count)]
    return [rows[start : start + size] for start in range(0, count, size)]


def _check_in_process(rows: list[tuple[int, dict[str, Any]]]) -> tuple[int, CheckedChunk]:
    """What the worker ran (for a test it also says which process it ran in)."""
    checked = check_rows(rows, authorities=AUTHORITIES, default_authority=None, today=TODAY)
    return os.getpid(), checked


def _here(chunks: list[list[tuple[int, dict[str, Any]]]]) -> list[CheckedChunk]:
    return [check_rows(c, authorities=AUTHORITIES, default_authority=None, today=TODAY) for c in chunks]


def test_chunks_validated_by_the_worker_come_back_as_validated_here_in_file_order() -> None:
    chunks = _chunks(47, 6)
    pool = checks.validating_pool()
    try:
        started = pool.submit(_check_in_process, [])
        worker_pid = started.result()[0]
        answers = list(with_worker(_check_in_process, chunks, pool, started))
    finally:
        pool.shutdown()
    assert worker_pid != os.getpid()
    assert {pid for pid, _ in answers} == {worker_pid}
    assert [checked for _, checked in answers] == _here(chunks)
    assert sum(len(c.errors) for _, c in answers) == 10  # rows 0, 5, …, 45: the impossible date


def test_chunks_are_validated_here_until_the_worker_has_started() -> None:
    chunks = _chunks(12, 4)
    pool = checks.validating_pool()
    try:
        starting: Future[Any] = Future()  # the worker's first answer, not back yet
        answers = list(with_worker(_check_in_process, chunks, pool, starting))
    finally:
        pool.shutdown()
    assert {pid for pid, _ in answers} == {os.getpid()}
    assert [checked for _, checked in answers] == _here(chunks)


def test_a_worker_that_dies_leaves_the_rest_of_the_file_to_this_process() -> None:
    chunks = _chunks(30, 5)
    pool = checks.validating_pool()
    try:
        started = pool.submit(_check_in_process, [])
        started.result()
        with pytest.raises(BrokenProcessPool):
            pool.submit(os._exit, 1).result()
        answers = list(with_worker(_check_in_process, chunks, pool, started))
    finally:
        pool.shutdown()
    assert {pid for pid, _ in answers} == {os.getpid()}
    assert [checked for _, checked in answers] == _here(chunks)


def test_a_small_file_starts_no_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pool() -> None:
        raise AssertionError("a file under POOL_FROM_ROWS rows started a worker")

    monkeypatch.setattr(checks, "validating_pool", no_pool)
    count = checks.POOL_FROM_ROWS - 1
    rows = [(i + 2, _raw(i)) for i in range(count)]
    size = count // 2
    parts = list(
        checked_chunks(rows, size=size, authorities=AUTHORITIES, default_authority=None, today=TODAY)
    )
    assert [p.read for p in parts] == [size, size, count - 2 * size]
    assert sum(len(p.valid) for p in parts) == count - len(range(0, count, 5))


def test_an_import_validated_partly_by_the_worker_reports_and_stores_a_single_pass(
    session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    del staff  # departments D00–D02
    raws = [_raw(i) for i in range(40)] + [_raw(3)]  # the last row repeats the fourth
    monkeypatch.setattr(service, "IMPORT_CHUNK", 4)
    monkeypatch.setattr(checks, "POOL_FROM_ROWS", 8)
    seen: list[int] = []
    report = import_pledges(
        session=session,
        rows=enumerate(raws, start=2),
        actor=Actor(name="导入", role=Role.ADMIN),
        source_name="t.csv",
        today=TODAY,
        calendar=load_calendar(session=session),
        after_chunk=lambda so_far: seen.append(so_far.total),
    )
    session.commit()
    assert seen == [*range(4, 41, 4), 41]
    assert (report.total, report.imported, report.already_imported) == (41, 32, 1)
    assert [e.row for e in report.errors] == [i + 2 for i in range(0, 40, 5)]
    stored = session.exec(select(Pledge.pledgor_name).order_by(col(Pledge.seq))).all()
    assert stored == [f"校验进程公司{i}" for i in range(40) if i % 5]

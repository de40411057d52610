"""Validating an import's rows a chunk at a time, on a second core when the file is large.

Validation needs no database, so while this process checks and inserts one chunk, the worker of a
``concurrent.futures.ProcessPoolExecutor`` validates the next: the import uses the machine's second core
(SQLite has one writer; on PostgreSQL the inserting process is still the one that waits on the server).
The worker is started with the ``spawn`` method: a fresh interpreter that inherits no lock, thread or
connection from a server or flow-runner process, with this process's environment and working directory,
so it reads the same settings (the deadline's plausible range). Rows go out and validated rows come back
by the pool's own pickling.

The worker takes a second or so of CPU to start (it imports the models); until it answers, this process
validates the chunks itself, so the import never waits for it. Measured on the 2-core benchmark VM: a chunk
of 5,000 rows costs this process about 85 ms to validate, but only about 27 ms to send to the worker and
take back (the pool's pickling), and the worker's first answer comes after about three chunks have been
validated here. A file of fewer than ``POOL_FROM_ROWS`` rows therefore does not start one at all: the
worker would validate a chunk or two while its start-up takes a core-second from a busy machine. Chunks
come back in file order whoever validated them. Should the worker die, the rest of the file is validated
here.
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from itertools import chain, islice
from typing import Any, TypeVar

from models.pledges.access import new_access_codes, secret_key
from models.pledges.import_rows import RowError, ValidRow, validate_row

log = logging.getLogger(__name__)

# From this many rows on, a worker process validates chunks while this one inserts.
POOL_FROM_ROWS = 30_000
# Chunks handed to the worker beyond the one this process waits for: it validates the next while this
# process inserts the current one.
_AHEAD = 2

RawRow = tuple[int, dict[str, Any]]


@dataclass
class CheckedChunk:
    """One chunk of rows read: how many, the valid ones and every validation error, in row order."""

    read: int
    valid: list[ValidRow] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    # The access codes (code, digest) of the valid rows, one each, when the worker made them; else none.
    codes: list[tuple[str, str]] = field(default_factory=list)


def check_rows(
    rows: list[RawRow], *, authorities: dict[str, int], default_authority: str | None, today: dt.date
) -> CheckedChunk:
    """``validate_row`` over a chunk of rows (a plain function of plain values, for the pool)."""
    checked = CheckedChunk(read=len(rows))
    for number, raw in rows:
        row, errors = validate_row(number, raw, authorities, default_authority, today=today)
        checked.errors += errors
        if row is not None:
            checked.valid.append(row)
    return checked


def check_rows_in_worker(
    rows: list[RawRow],
    *,
    authorities: dict[str, int],
    default_authority: str | None,
    today: dt.date,
    key: bytes,
) -> CheckedChunk:
    """``check_rows`` for the worker, with the access codes of the valid rows made there too (``key`` is
    the inserting process's ``secret_key``). Equal texts and dates of the valid rows are made one object
    each (a file's matter, obligation and basis, its few deadlines), so the pool's pickling sends each
    once and the inserting process unpickles a reference for the others instead of decoding the text
    again."""
    checked = check_rows(rows, authorities=authorities, default_authority=default_authority, today=today)
    texts: dict[str, str] = {}
    dates: dict[dt.date, dt.date] = {}
    for row in checked.valid:
        values = row.values
        for name, value in values.items():
            kind = type(value)
            if kind is str:
                values[name] = texts.setdefault(value, value)
            elif kind is dt.date:
                values[name] = dates.setdefault(value, value)
    checked.codes = new_access_codes(len(checked.valid), key)
    return checked


def checked_chunks(
    rows: Iterable[RawRow],
    *,
    size: int,
    authorities: dict[str, int],
    default_authority: str | None,
    today: dt.date,
) -> Generator[CheckedChunk, None, None]:
    """Each ``size`` rows of ``rows`` validated, in order; close the generator to stop the worker early."""
    options: dict[str, Any] = {"authorities": authorities, "default_authority": default_authority}
    check = partial(check_rows, **options, today=today)
    chunks = _chunks(rows, size)
    first: list[list[RawRow]] = []
    read = 0
    for chunk in chunks:
        first.append(chunk)
        read += len(chunk)
        if read >= POOL_FROM_ROWS:
            pool = validating_pool()
            # The worker's answer to an empty chunk: it has started and imported the validation.
            started = pool.submit(check, [])
            try:
                remote = partial(check_rows_in_worker, **options, today=today, key=secret_key())
                yield from with_worker(check, chain(first, chunks), pool, started, remote)
            finally:
                # Not waited for: the worker exits on its own once its last task is done (or once started).
                pool.shutdown(wait=False, cancel_futures=True)
            return
    yield from map(check, first)  # a small file: not worth a worker


def validating_pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))


def _chunks(rows: Iterable[RawRow], size: int) -> Iterator[list[RawRow]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


_T = TypeVar("_T")


def with_worker(
    check: Callable[[list[RawRow]], _T],
    chunks: Iterable[list[RawRow]],
    pool: ProcessPoolExecutor,
    started: Future[Any],
    remote: Callable[[list[RawRow]], _T] | None = None,
) -> Iterator[_T]:
    """``check`` of each chunk, in order: by ``pool`` once ``started`` is done (``remote`` there, when
    given: the same answer in a form cheaper to send back), here until then (and here again if the pool
    breaks)."""
    ahead: deque[tuple[list[RawRow], Future[_T]]] = deque()  # handed over, oldest first
    for chunk in chunks:
        if started.done() and started.exception() is None and _hand_over(pool, remote or check, chunk, ahead):
            if len(ahead) >= _AHEAD:
                yield _answer(check, *ahead.popleft())
            continue
        # No worker (not yet, or no more): this chunk is next in file order after those handed over.
        while ahead:
            yield _answer(check, *ahead.popleft())
        yield check(chunk)
    while ahead:
        yield _answer(check, *ahead.popleft())


def _hand_over(
    pool: ProcessPoolExecutor,
    check: Callable[[list[RawRow]], _T],
    chunk: list[RawRow],
    ahead: deque[tuple[list[RawRow], Future[_T]]],
) -> bool:
    try:
        ahead.append((chunk, pool.submit(check, chunk)))
    except BrokenProcessPool:
        return False
    return True


def _answer(check: Callable[[list[RawRow]], _T], chunk: list[RawRow], future: Future[_T]) -> _T:
    try:
        return future.result()
    except BrokenProcessPool:
        log.warning("导入校验子进程意外退出，本块在本进程校验 (the validating worker died)")
        return check(chunk)

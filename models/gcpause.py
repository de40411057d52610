"""One way to run a batch with the cyclic garbage collector paused.

A sweep or import batch builds tens of thousands of short-lived rows before its commit; the collector kept
walking them (and, in its full collections, the whole heap) while they were built: 14 % of the sweep's
time and a sixth of the import's in profiles (docs/benchmarks.md). Reference counting still frees
everything acyclic at once; cycles left behind are collected when the collector runs again. Several
threads may run batches at once, so the pause is counted under a lock and the collector is enabled again
only by the last batch to finish, and only if it was enabled when the first began.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic collector for the ``with`` block (nestable, thread-safe)."""
    global _depth, _resume
    with _lock:
        _depth += 1
        if _depth == 1:
            _resume = gc.isenabled()
            gc.disable()
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()

"""The collector pause shared by the sweep and the import: nestable across threads, restores the
previous state."""

import gc
import threading

from models import gcpause


def test_the_collector_is_paused_per_batch_and_restored() -> None:
    assert gc.isenabled()
    inside = threading.Event()
    leave = threading.Event()

    def other_batch() -> None:
        with gcpause.collector_paused():
            inside.set()
            leave.wait(10)

    thread = threading.Thread(target=other_batch)
    thread.start()
    inside.wait(10)
    with gcpause.collector_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()  # the other batch still runs
    leave.set()
    thread.join()
    assert gc.isenabled()

    gc.disable()  # an application that runs without the collector keeps it off
    try:
        with gcpause.collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()

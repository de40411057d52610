"""What every flow shares: the flow-run id to stamp on events, batching of ids, the system actor."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar

from models.privacy import install_log_scrubber

T = TypeVar("T")

# Every flow module imports this one, so worker processes scrub personal data from their logs (and from
# the logs they ship to the Prefect server) just as the API does.
install_log_scrubber()


def current_run_id() -> str | None:
    """The id of the running Prefect flow run, or None outside a flow (CLI dry runs, tests of services)."""
    from prefect.runtime import flow_run

    run_id = flow_run.get_id()
    return str(run_id) if run_id else None


def batched(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])

"""Loading a year's holiday notice, with everything that depends on the calendar brought up to date.

Every entry point (CLI, admin API, admin page) calls this one function, so a corrected notice can never
be stored without the pending publication days it changes being recomputed and audited.
"""

from __future__ import annotations

from sqlmodel import Session

from models.calendar import DayChange, YearNotice, load_calendar, save_year_notice
from models.publication import recompute_publication_days
from models.workflow import Actor


def load_year_notice(
    *, session: Session, notice: YearNotice, loaded_by: str, actor: Actor
) -> tuple[list[DayChange], str, int]:
    """Store ``notice`` and recompute open pledges' publication days, in the caller's transaction.

    Returns the day changes, the new calendar version and how many pledges got a new publication day.
    """
    changes, version = save_year_notice(session=session, notice=notice, loaded_by=loaded_by)
    recomputed = recompute_publication_days(
        session=session, calendar=load_calendar(session=session), actor=actor
    )
    return changes, version, recomputed

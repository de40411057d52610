"""Loading a year's holiday notice, with everything that depends on the calendar brought up to date.

Every entry point (CLI, admin API, admin page) calls this one function, so a corrected notice can never
be stored without what it changes being recomputed and audited: the pending publication days of pledges
(models/publication_days.py) and every deadline waiting for the calendar (待日历确定: complaint stages
and extensions, evidence reviews, objection and repair decisions; models/pending_deadlines.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlmodel import Session

from models.calendar import DayChange, YearNotice, load_calendar, save_year_notice
from models.pending_deadlines import resolve_pending_deadlines
from models.publication import recompute_publication_days
from models.workflow import Actor


@dataclass(frozen=True)
class Recomputed:
    """What a load brought up to date: pledges with a new publication day, and deadlines that got their
    date (pending ones) or a new one (a corrected notice), by kind (complaint, pledge, breach)."""

    publication_days: int
    deadlines: dict[str, int] = field(default_factory=dict)

    @property
    def deadlines_total(self) -> int:
        return sum(self.deadlines.values())


def load_year_notice(
    *, session: Session, notice: YearNotice, loaded_by: str, actor: Actor
) -> tuple[list[DayChange], str, Recomputed]:
    """Store ``notice``, recompute open pledges' publication days and date the open stages' deadlines
    (pending ones, and known ones a corrected notice moved), all in the caller's transaction.

    Returns the day changes, the new calendar version and what was recomputed.
    """
    changes, version = save_year_notice(session=session, notice=notice, loaded_by=loaded_by)
    calendar = load_calendar(session=session)
    recomputed = recompute_publication_days(session=session, calendar=calendar, actor=actor)
    deadlines = resolve_pending_deadlines(session=session, calendar=calendar, actor=actor)
    return changes, version, Recomputed(publication_days=recomputed, deadlines=deadlines)

"""The register's states that the public sees, the one condition for a record shown on a day, and what a
record's outcome means for its subject (``record_outcome``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, exists, select
from sqlalchemy.orm import object_session
from sqlmodel import col

from models.breach import PublishedBreach, Severity
from models.breach_record import published_class
from models.lifecycle import BREACH, BreachState
from models.settings import get_settings

BS = BreachState
# Records the public sees: published, and those whose objection or repair is being decided.
SHOWN_STATES = (BS.PUBLISHED, BS.UNDER_OBJECTION, BS.REPAIR_REQUESTED)


def shown_on(today: dt.date, *, with_minor: bool = False) -> ColumnElement[bool]:
    """SQL condition: the record is shown on ``today`` (a shown state, its GSJZQ not yet past), of a class
    that is published (not 轻微: models/breach_record.py ``published_class``), and, where government
    breaches are internal only (SHOUXIN_PUBLISH_GOVERNMENT_BREACHES=false), not a government breach (a
    record from a complaint).

    The date is checked as well as the state because the record stops showing by itself at the end of
    its period (RULEBOOK); the expire_publications flow only records that, and a day it missed must not
    keep the record public or refusing the subject. The class and the setting are checked here, where
    every public read of the register goes through (lists, by number, credit profiles, exports), so
    records registered while it was on stop showing everywhere at once when it is turned off.

    ``with_minor`` keeps records of class 轻微 in: they are in principle not published (RULEBOOK,
    publication §1) but kept for their period, and what is not a public read still reaches them: their
    subject's objection and repair, and the bar a false pledge's record keeps (register/queries.py)."""
    shown = and_(col(PublishedBreach.state).in_(SHOWN_STATES), col(PublishedBreach.publication_end) >= today)
    if not with_minor:
        shown = and_(shown, col(PublishedBreach.severity) != Severity.MINOR)
    if get_settings().publish_government_breaches:
        return shown
    return and_(shown, col(PublishedBreach.source_kind) != "complaint")


def _shown(record: PublishedBreach, today: dt.date) -> bool:
    """``shown_on`` for a record already loaded, asked of the database it came from: one rule, not a
    second copy of it in Python."""
    session = object_session(record)
    assert session is not None, "a record read through a session"
    query = select(exists().where(col(PublishedBreach.id) == record.id, shown_on(today)))
    return bool(session.scalar(query))


def finding_stands(state: str) -> bool:
    """Whether a record in ``state`` is still a breach finding: a withdrawn one (objection upheld) was
    wrong and is no breach at all; a repaired or expired one was a breach that is no longer published."""
    return state != BS.WITHDRAWN


@dataclass(frozen=True)
class RecordOutcome:
    """What a breach record means for its subject on a day, the one answer the views of a pledge give
    (the pledgor's status page, the printed notice; the scorecard counts by ``finding_stands``, the rule
    ``breach`` comes from): whether it is still a breach, whether the register shows it, how to say so."""

    state: BreachState  # as read on the day: a shown state past its GSJZQ reads as expired
    breach: bool
    shown: bool
    # In force but of a class that is not published (轻微): "公示中" would tell its subject a falsehood.
    unpublished: bool = False

    @property
    def label(self) -> str:
        return _UNPUBLISHED_LABEL if self.unpublished else BREACH.state(self.state).label

    @property
    def summary(self) -> str:
        """The outcome in a phrase (中文), for a sentence about the pledge or the subject."""
        if self.unpublished:
            return _UNPUBLISHED_SUMMARY
        return _SUMMARIES.get(self.state, "已依法公示为违约失信记录")


_UNPUBLISHED_LABEL = "轻微失信，依规不予公示"
_UNPUBLISHED_SUMMARY = "认定为轻微失信记录，依规不予公示"
_SUMMARIES = {
    BS.WITHDRAWN: "经异议核查认定有误，失信记录已撤销，不属违约失信",
    BS.REPAIRED: "曾依法公示为违约失信记录，已信用修复，停止公示",
    BS.EXPIRED: "曾依法公示为违约失信记录，公示期满，停止公示",
}


def record_outcome(record: PublishedBreach, today: dt.date) -> RecordOutcome:
    """The record's outcome on ``today``. A record past its publication end reads as expired before the
    expire flow has recorded it, as the register already hides it (``shown_on``)."""
    shown = _shown(record, today)
    state = BS.EXPIRED if past_publication(record, today) else BreachState(record.state)
    unpublished = state in SHOWN_STATES and not published_class(record.severity)
    return RecordOutcome(state=state, breach=finding_stands(state), shown=shown, unpublished=unpublished)


def past_publication(record: PublishedBreach, today: dt.date) -> bool:
    """Whether ``record``'s publication period ended before ``today`` while it was still in a shown state,
    whether or not the expire flow has recorded it yet (then it is ``expired``)."""
    lapsed = record.state in (*SHOWN_STATES, BS.EXPIRED)
    return lapsed and record.publication_end < today

"""The register's states that the public sees, and the one condition for a record shown on a day."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, and_
from sqlmodel import col

from models.breach import PublishedBreach
from models.lifecycle import BreachState
from models.settings import get_settings

BS = BreachState
# Records the public sees: published, and those whose objection or repair is being decided.
SHOWN_STATES = (BS.PUBLISHED, BS.UNDER_OBJECTION, BS.REPAIR_REQUESTED)


def shown_on(today: dt.date) -> ColumnElement[bool]:
    """SQL condition: the record is shown on ``today`` (a shown state, its GSJZQ not yet past), and, where
    government breaches are internal only (SHOUXIN_PUBLISH_GOVERNMENT_BREACHES=false), not a government
    breach (a record from a complaint).

    The date is checked as well as the state because the record stops showing by itself at the end of
    its period (RULEBOOK); the expire_publications flow only records that, and a day it missed must not
    keep the record public or refusing the subject. The setting is checked here, where every public read
    of the register goes through (lists, by number, credit profiles and checks, exports), so records
    registered while it was on stop showing everywhere at once when it is turned off."""
    shown = and_(col(PublishedBreach.state).in_(SHOWN_STATES), col(PublishedBreach.publication_end) >= today)
    if get_settings().publish_government_breaches:
        return shown
    return and_(shown, col(PublishedBreach.source_kind) != "complaint")

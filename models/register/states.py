"""The register's states that the public sees."""

from __future__ import annotations

from models.lifecycle import BreachState

BS = BreachState
# Records the public sees: published, and those whose objection or repair is being decided.
SHOWN_STATES = (BS.PUBLISHED, BS.UNDER_OBJECTION, BS.REPAIR_REQUESTED)

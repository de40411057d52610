"""Imports every table so ``SQLModel.metadata`` is complete (alembic, tests, create_all)."""

from __future__ import annotations

from sqlmodel import SQLModel

# Installs the check of every text column before each flush (models/text.py).
import models.text  # noqa: F401
from models.audit import CaseEvent
from models.breach import PublishedBreach
from models.calendar import CalendarYear
from models.complaint import CategoryRule, Complaint, ComplaintAssignment
from models.files import CaseFile
from models.government_credit_record import GovernmentCreditRecord
from models.hotline import HotlineMessage
from models.numbering import CaseCounter
from models.org import Department, User
from models.outbox import Notification
from models.platform import PlatformDocument
from models.pledge import Pledge, PledgeEvidence
from models.pledges.import_jobs import PledgeImport
from models.ratelimit import AuthFailure

metadata = SQLModel.metadata

__all__ = [
    "AuthFailure",
    "CalendarYear",
    "CaseFile",
    "CaseCounter",
    "CaseEvent",
    "CategoryRule",
    "Complaint",
    "ComplaintAssignment",
    "Department",
    "GovernmentCreditRecord",
    "HotlineMessage",
    "Notification",
    "PlatformDocument",
    "Pledge",
    "PledgeEvidence",
    "PledgeImport",
    "PublishedBreach",
    "User",
    "metadata",
]

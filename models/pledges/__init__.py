"""Informed pledges (告知承诺), one package of the same shape as models/complaints/: registration and the
authority's decisions (``registration``), evidence files (``evidence``, ``evidence_files``) and their
review (``review``, ``review_queue``), reading pledges (``queries``), the pledgor's access code
(``access``) and self-service (``self_service``), mails (``mail``), and the bulk import (``import_rows``
reads and checks a file, ``importing`` stores its rows, ``import_jobs`` keeps an upload and its report
for the ``import_pledges`` flow). The table itself is models/pledge.py."""

from models.pledges.evidence import store_evidence
from models.pledges.queries import (
    PLEDGE_ACTIONS,
    PledgeQuery,
    get_pledge,
    list_pledges,
    pledge_events,
    pledge_view,
    publication_status,
)
from models.pledges.registration import (
    credit_check,
    normalise_pledgor,
    pledge_action,
    register_pledge,
    register_pledge_with_code,
)

__all__ = [
    "PLEDGE_ACTIONS",
    "PledgeQuery",
    "credit_check",
    "get_pledge",
    "list_pledges",
    "normalise_pledgor",
    "pledge_action",
    "pledge_events",
    "pledge_view",
    "publication_status",
    "register_pledge",
    "register_pledge_with_code",
    "store_evidence",
]

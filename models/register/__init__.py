"""The public register of breach records: queries with keyset pagination and the credit profile
(``queries``), the subject's objection and credit repair (``requests``, imported from there: it uses the
pledgor's access code and notices, and models/pledges uses the queries here, so this package's
initialiser leaves it out), the deciding department's decisions (``decisions``), and expiry at the end of
the publication period (``expiry``). The record's
shared fields and periods live in models/breach_record.py, beside the publication sweep that also uses
them."""

from models.breach_record import department_names, public_fields
from models.register.decisions import (
    BREACH_DECISIONS,
    CORRECTABLE,
    CORRECTION_LABELS,
    BreachCorrection,
    decide,
)
from models.register.expiry import expire_records, expiry_candidates
from models.register.queries import (
    RegisterQuery,
    breach_by_number,
    count_shown,
    credit_profile,
    false_pledge_of,
    get_public_record,
    has_current_breach,
    list_register,
)
from models.register.states import SHOWN_STATES

__all__ = [
    "BREACH_DECISIONS",
    "CORRECTABLE",
    "CORRECTION_LABELS",
    "SHOWN_STATES",
    "BreachCorrection",
    "RegisterQuery",
    "breach_by_number",
    "count_shown",
    "credit_profile",
    "decide",
    "department_names",
    "expire_records",
    "expiry_candidates",
    "false_pledge_of",
    "get_public_record",
    "has_current_breach",
    "list_register",
    "public_fields",
]

"""Screening new complaints (flow screen_intake): possible duplicates and a suggested department.

Suggestions only: nothing is merged or dispatched; intake staff decide.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from models.complaint import CATEGORY_LABELS, CategoryRule, Complaint
from models.errors import Conflict
from models.lifecycle import COMPLAINT
from models.org import Department
from models.outbox import mobile_number
from models.workflow import Actor, apply_event

SIMILAR_SUMMARY_RATIO = 0.6


def unscreened_ids(*, session: Session) -> list[int]:
    sources = COMPLAINT.transition("suggest").sources
    stmt = select(Complaint.id).where(col(Complaint.screened).is_(False), col(Complaint.state).in_(sources))
    return [i for i in session.exec(stmt.order_by(col(Complaint.id))).all() if i is not None]


# Addresses that name nobody: the reserved example and test domains (RFC 2606/6761), which demo data,
# training and hotline operators typing a placeholder use for many different people.
_NOBODY_DOMAINS = ("example.com", "example.org", "example.net")
_NOBODY_SUFFIXES = (".example", ".test", ".invalid", ".localhost", ".local")


def identifying_email(email: str | None) -> str | None:
    """The address as it identifies one person (compared case-blind), or None for an address that does not
    (a placeholder or demo address): two complainants are the same person by e-mail only when they share
    a real address, never because they share a domain or a placeholder."""
    if not email or "@" not in email:
        return None
    address = email.strip().lower()
    domain = address.rsplit("@", 1)[1]
    if domain in _NOBODY_DOMAINS or domain.endswith(_NOBODY_SUFFIXES) or domain == "localhost":
        return None
    return address


# ASCII digits only, as ``mobile_number`` reads them.
_NOT_DIGIT = re.compile(r"\D", re.ASCII)
# What a phone is written with besides its digits ("138 0000 0001", "+86-138…", "(0571)8765…").
# The marks a number is written with, extension marks included (0471-6234567转8001): removed in SQL, the
# stored phone compares with ``phone_key``'s digits.
_PHONE_MARKS = (" ", "-", "+", "(", ")", ".", "\u3000", "转", "分机", "ext", "x", "#")


def phone_key(phone: str | None) -> str | None:
    """The number a phone dials, to tell whether two complainants gave the same one: its digits only, a
    mobile as its 11 digits (a leading 86 or 0086 dropped, as ``mobile_number`` reads it), None when it
    holds no digit."""
    digits = _NOT_DIGIT.sub("", unicodedata.normalize("NFKC", phone or ""))
    return mobile_number(digits.removeprefix("86")) or mobile_number(digits) or digits or None


def digits_only(column: Any) -> Any:
    """``column`` with the marks people write a number with removed, in SQL (both databases)."""
    expr: Any = col(column)
    for mark in _PHONE_MARKS:
        expr = func.replace(expr, mark, "")
    return expr


def same_phone(key: str) -> Any:
    """Stored phones that dial ``key``: written with spaces, dashes or brackets, with +86 or without."""
    written = {key, f"86{key}", f"0086{key}"} if mobile_number(key) else {key}
    return digits_only(Complaint.complainant_phone).in_(sorted(written))


def _duplicates(session: Session, case: Complaint) -> list[dict[str, Any]]:
    email = identifying_email(case.complainant_email)
    phone = phone_key(case.complainant_phone)
    same_person = [same_phone(phone)] if phone else []
    if case.complainant_credit_code:
        same_person.append(col(Complaint.complainant_credit_code) == case.complainant_credit_code)
    if email is not None:
        same_person.append(func.lower(col(Complaint.complainant_email)) == email)
    same_respondent = [
        col(c) == v
        for v, c in ((case.respondent_department_id, Complaint.respondent_department_id),)
        if v is not None
    ]
    if case.respondent_name:
        same_respondent.append(col(Complaint.respondent_name) == case.respondent_name)
    if not same_person and not same_respondent:
        return []
    open_states = COMPLAINT.open_states()
    stmt = select(Complaint).where(
        col(Complaint.id) != case.id,
        col(Complaint.state).in_(open_states),
        or_(*same_person, *same_respondent),
    )
    found: list[dict[str, Any]] = []
    for other in session.exec(stmt.order_by(col(Complaint.id))).all():
        ratio = round(difflib.SequenceMatcher(None, case.summary, other.summary).ratio(), 2)
        person = _same_person(case, other)
        if person or ratio >= SIMILAR_SUMMARY_RATIO:
            reason = "同一投诉人" if person else "同一被投诉单位且诉求相似"
            found.append({"id": other.id, "number": other.number, "reason": reason, "similarity": ratio})
    return found


def _same_person(a: Complaint, b: Complaint) -> bool:
    pairs = (
        (phone_key(a.complainant_phone), phone_key(b.complainant_phone)),
        (identifying_email(a.complainant_email), identifying_email(b.complainant_email)),
        (a.complainant_credit_code, b.complainant_credit_code),
    )
    return any(x is not None and x == y for x, y in pairs)


def _suggested_department(session: Session, case: Complaint) -> dict[str, Any] | None:
    rule = session.get(CategoryRule, case.category)
    text = f"{case.summary}\n{case.description}"
    if rule is not None and rule.department_id is not None:
        hits = [k for k in rule.keywords if k and k in text]
        if hits or not rule.keywords:
            dept = session.get(Department, rule.department_id)
            # A department closed since the catalogue was set cannot be dispatched to: the next rule.
            if dept is not None and dept.active:
                why = f"派单目录：{CATEGORY_LABELS[case.category]}" + (
                    f"，关键词 {'、'.join(hits)}" if hits else ""
                )
                return {"code": dept.code, "name": dept.name, "reason": why}
    if case.respondent_department_id is not None:
        dept = session.get(Department, case.respondent_department_id)
        if dept is not None and dept.active:
            return {"code": dept.code, "name": dept.name, "reason": "被投诉单位"}
    return None


def screen_batch(*, session: Session, ids: Sequence[int], actor: Actor, today: dt.date) -> int:
    """Record duplicate and department suggestions on each unscreened case; returns how many were screened.

    Suggestions only: nothing is merged or dispatched. Each case commits on its own.
    """
    done = 0
    for complaint_id in ids:
        case = session.get(Complaint, complaint_id)
        if case is None or case.screened or case.state not in COMPLAINT.transition("suggest").sources:
            continue
        suggestions = {
            "duplicates": _duplicates(session, case),
            "department": _suggested_department(session, case),
        }
        try:
            apply_event(
                session=session,
                case=case,
                event="suggest",
                actor=actor,
                today=today,
                data=suggestions,
                idempotency_key=f"complaint:{complaint_id}:suggest",
            )
            case.suggestions = suggestions
            case.screened = True
            session.commit()
            done += 1
        except (Conflict, IntegrityError):
            # Someone acted on the case meanwhile; the next run screens it again.
            session.rollback()
    return done

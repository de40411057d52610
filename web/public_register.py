"""The public register page's reading of what was typed and picked: one search box read as a credit code
or a name, the filters (decision dates, deciding department, subject type, class), the addresses of the
next page and of the export carrying them. And a record's objection and repair forms: the record as they
may show it, what they say before they are filled (when a request is answered, or why none can be filed
now), and the page they are drawn on. The routes are in web/public.py."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import asdict
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from sqlmodel import Session, col, select

from models.breach import PublishedBreach
from models.breach_record import department_names, offline_requests_only, public_fields, published_class
from models.calendar import WorkCalendar
from models.errors import NotFound, ValidationFailed
from models.lifecycle import BreachState
from models.org import Department
from models.pledges.self_service import (
    objection_reply_days,
    objection_reply_due,
    repair_decision_days,
    repair_decision_due,
)
from models.register.queries import SHOWN_CLASSES, SUBJECT_KINDS, RegisterQuery, breach_by_number
from models.register.requests import repair_busy
from models.text import checked_text
from web.core import public_message, render
from web.files import upload_hint

EXPORT_PATH = "/api/v1/public/breaches/export"
FILTERS = ("date_from", "date_to", "department", "subject_kind", "severity")

# A credit code as people write it: grouped by spaces or dashes as printed on a licence, full-width as a
# Chinese input method types it, in lower case.
_CODE_SEPARATORS = str.maketrans("", "", " -\u3000\u00a0")


def typed_credit_code(term: str) -> str | None:
    """``term`` as a credit code, if that is what it looks like: after NFKC folding and without spaces and
    dashes, 15 to 20 Latin letters and digits, most of them digits (a code has at least the 6 of its region
    code and usually 14 or more). A name never looks so: a Chinese one is not ASCII, and a Latin one is
    mostly letters. A near miss is still a code: the validator then says what is wrong with it."""
    folded = unicodedata.normalize("NFKC", term).translate(_CODE_SEPARATORS).upper()
    if not (15 <= len(folded) <= 20 and folded.isascii() and folded.isalnum()):
        return None
    return folded if sum(c.isdigit() for c in folded) * 2 > len(folded) else None


def _date(value: str, label: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        shown = value if value.isprintable() else repr(value)
        raise ValidationFailed(f"{label}“{shown}”格式应为 YYYY-MM-DD，如 2026-06-01") from None


def register_search(term: str, picked: dict[str, str]) -> RegisterQuery:
    """The query the page's search box ``term`` and filters ``picked`` ask for (without page or cursor);
    a value the register does not know is refused by the query itself (``register_select``)."""
    code = typed_credit_code(term)
    values = {k: checked_text(picked.get(k, ""), label="筛选条件", multiline=False).strip() for k in FILTERS}
    return RegisterQuery(
        name=term if term and code is None else None,
        credit_code=code,
        department=values["department"] or None,
        subject_kind=values["subject_kind"] or None,
        severity=values["severity"] or None,
        date_from=_date(values["date_from"], "决定日期起"),
        date_to=_date(values["date_to"], "决定日期止"),
    )


def _parameters(query: RegisterQuery) -> dict[str, str]:
    fields = asdict(query)
    return {k: str(fields[k]) for k in ("name", "credit_code", *FILTERS) if fields[k]}


def export_url(query: RegisterQuery, fmt: str) -> str:
    """The export of what the page shows, every record of it: the same filters, as the API names them."""
    return f"{EXPORT_PATH}?{urlencode({'format': fmt, **_parameters(query)})}"


def page_url(term: str, picked: dict[str, str], after: str | None = None) -> str:
    """The page with the same search and filters (the first one, or the one after ``after``)."""
    params = {"q": term, **{k: v for k, v in picked.items() if k in FILTERS and v}}
    if after:
        params["after"] = after
    return f"/register?{urlencode(params)}"


def filter_choices(session: Session) -> dict[str, Any]:
    """The filters' lists: every department (a retired one's records keep its code), subject types and
    the classes the register shows."""
    departments = session.exec(select(Department.code, Department.name).order_by(col(Department.code))).all()
    return {
        "departments": [(code, name) for code, name in departments],
        "subject_kinds": SUBJECT_KINDS,
        "classes": SHOWN_CLASSES,
    }


NO_RECORDS_HINT = (
    "请核对名称的写法（可只输入名称开头几个字，不区分全角半角、大小写和空格；个人须输入完整姓名），"
    "或改用 18 位统一社会信用代码查询。"
)

# Why an objection cannot be lodged now, and what the subject can do, in the subject's words (the
# lifecycle's own refusal names states and actions in staff terms); the form is not offered then, and a
# submission that races into one of these states is answered with the same sentence.
_OBJECTION_BUSY = {
    BreachState.UNDER_OBJECTION: (
        "该记录的异议正在处理中，认定部门答复前不能再次提出异议。答复结果将按承诺登记的联系方式告知；"
        "异议被认定不成立的，可凭新的事实和证明材料再次提出。"
    ),
    BreachState.REPAIR_REQUESTED: (
        "该记录的信用修复申请正在审查，审查期间不能提出异议。决定结果将按承诺登记的联系方式告知；"
        "不予修复的，届时可再对记录提出异议。"
    ),
}


def objection_busy(record: PublishedBreach | None) -> str | None:
    """Why the record takes no objection now (another request pending), or None."""
    return _OBJECTION_BUSY.get(BreachState(record.state)) if record is not None else None


def record_offline_only(rec: dict[str, Any]) -> str | None:
    """What the record's page and forms say instead of offering the forms, for a published record that
    came from a complaint: its subject has no access code, and the service refuses it
    (models/register/requests.py). An unpublished record's form does not say where it came from."""
    if "source_kind" not in rec or rec["source_kind"] == "pledge":
        return None
    return offline_requests_only(rec["record_number"])


def form_record(
    session: Session, number: str, today: dt.date
) -> tuple[PublishedBreach | None, dict[str, Any]]:
    """The record an objection or repair form is about, as the form may show it. A record the register
    shows is shown; any other number (unknown, past its period, or of class 轻微: in force but not
    published, its subject still objecting or asking for repair with the access code) gets the same form
    with only the number typed, so the form tells nobody whether such a record exists, nor its class or
    source (the service answers them alike: ``requests.UNSHOWN_REFUSAL``)."""
    try:
        breach = breach_by_number(session=session, number=number, today=today, with_minor=True)
    except NotFound:
        return None, {"record_number": number}
    if is_unpublished(breach):
        return None, {"record_number": number}
    return breach, public_fields(breach, department_names(session))


def is_unpublished(breach: PublishedBreach | None) -> bool:
    return breach is None or not published_class(breach.severity)


def form_dates(breach: PublishedBreach | None, today: dt.date, calendar: WorkCalendar) -> dict[str, Any]:
    """What the objection and repair forms say before they are filled: when an objection lodged today
    is answered, from which day a repair may be requested, and which files may be attached. For a
    record not shown (``breach`` None) only what holds for any record: its own dates are for its subject,
    whom the service tells on submission."""
    return {
        "upload_hint": upload_hint(),
        "reply_due": objection_reply_due(calendar=calendar, today=today),
        "reply_days": objection_reply_days(),
        "repair_due": repair_decision_due(calendar=calendar, today=today),
        "repair_days": repair_decision_days(),
        "repair_earliest": breach.repair_earliest if breach else None,
        "repair_open": breach is not None and today >= breach.repair_earliest,
        # Another request pending: the form is not offered, the service would refuse it (one rule).
        "repair_busy": public_message(busy) if breach and (busy := repair_busy(breach)) else None,
        "objection_busy": objection_busy(breach),
    }


def form_page(
    request: Request,
    breach: PublishedBreach | None,
    rec: dict[str, Any],
    *,
    template: str,
    title: str,
    values: dict[str, str],
    error: str | None,
    sent: bool,
    dates: dict[str, Any],
    status_code: int = 200,
    errors: dict[str, str] | None = None,
) -> Response:
    return render(
        request,
        template,
        title=title,
        record=rec,
        unpublished=is_unpublished(breach),
        sent=sent,
        offline_only=record_offline_only(rec),
        values=values,
        error=error,
        errors=errors or {},
        status_code=status_code,
        **dates,
    )

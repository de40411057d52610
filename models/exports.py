"""CSV and XLSX exports: every cell neutralised against formula injection, personal data masked."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlmodel import Session, col, select

from models.breach import PublishedBreach
from models.complaint import CATEGORY_LABELS, CHANNEL_LABELS, Complaint
from models.complaints import ComplaintFilter, list_complaints, state_label
from models.errors import ValidationFailed
from models.privacy import mask_email, mask_phone, neutralise, scrub
from models.register import department_names, public_fields
from models.register.states import shown_on
from models.settings import get_settings
from models.stage_deadline import PENDING_LABEL
from models.workflow import Actor

MAX_ROWS = 50_000

COMPLAINT_COLUMNS = [
    ("number", "投诉编号"),
    ("state", "状态"),
    ("channel", "受理渠道"),
    ("category", "投诉类别"),
    ("complainant_name", "投诉人"),
    ("complainant_phone", "联系电话"),
    ("complainant_email", "电子邮箱"),
    ("summary", "投诉摘要"),
    ("stage_deadline", "办理期限"),
    ("created_at", "登记时间"),
]


def _cell(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return neutralise(value)


def render(headers: Sequence[str], rows: Iterable[Sequence[Any]], fmt: str) -> bytes:
    """The rows as CSV (UTF-8 with BOM, so Excel reads the Chinese) or XLSX."""
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(headers)
        writer.writerows([_cell(v) for v in row] for row in rows)
        return ("\ufeff" + out.getvalue()).encode("utf-8")
    if fmt == "xlsx":
        book = Workbook(write_only=True)
        sheet = book.create_sheet("导出")
        sheet.append(list(headers))
        for row in rows:
            # Strings are stored as text cells (never formulas) and neutralised for re-export as CSV.
            sheet.append([_cell(v) for v in row])
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    raise ValidationFailed(f"不支持的导出格式 {fmt}；请使用 csv 或 xlsx (format must be csv or xlsx)")


def complaint_rows(
    *, session: Session, actor: Actor, filters: ComplaintFilter, today: dt.date
) -> list[list[Any]]:
    """The complaints the actor may see, contacts masked, free text scrubbed."""
    out: list[list[Any]] = []
    zone = ZoneInfo(get_settings().timezone)
    page = filters.model_copy(update={"limit": 200, "after": None})
    while len(out) < MAX_ROWS:
        items, cursor = list_complaints(session=session, actor=actor, filters=page, today=today)
        out.extend(_complaint_row(c, zone) for c in items)
        if cursor is None:
            break
        page = page.model_copy(update={"after": cursor})
    return out


def _complaint_row(c: Complaint, zone: ZoneInfo) -> list[Any]:
    """One case as the case page shows it: channel and category by their labels, the registration time
    in the configured zone (stored in UTC, a case registered before 08:00 would show the day before)."""
    return [
        c.number,
        state_label(c.state),
        CHANNEL_LABELS.get(c.channel, str(c.channel)),
        CATEGORY_LABELS.get(c.category, str(c.category)),
        c.complainant_name,
        mask_phone(c.complainant_phone),
        mask_email(c.complainant_email),
        scrub(c.summary),
        # A deadline waiting for next year's calendar is running, not absent: say so as the pages do.
        PENDING_LABEL if c.deadline_pending else c.stage_deadline,
        c.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
    ]


def breach_rows(*, session: Session, today: dt.date) -> tuple[list[str], list[list[Any]]]:
    """The public register of ``today`` as rows in the 双公示 field style, individuals' names masked."""
    departments = department_names(session)
    stmt = (
        select(PublishedBreach)
        .where(shown_on(today))
        .order_by(col(PublishedBreach.decision_date).desc(), col(PublishedBreach.id).desc())
        .limit(MAX_ROWS)
    )
    records = [public_fields(b, departments, mask=True) for b in session.exec(stmt).all()]
    headers = list(records[0]) if records else ["record_number"]
    return headers, [[r.get(h) for h in headers] for r in records]

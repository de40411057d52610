"""CSV and XLSX exports: every cell neutralised against formula injection, personal data masked."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlmodel import Session

from models.complaint import CATEGORY_LABELS, CHANNEL_LABELS, Complaint
from models.complaints import ComplaintFilter, list_complaints, state_label
from models.errors import ValidationFailed
from models.privacy import mask_email, mask_phone, neutralise, scrub
from models.register import department_names, public_fields
from models.register.queries import RegisterQuery, newest_first, register_select
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


# The public export's columns: the record's fields (models/breach_record.py ``public_fields``) under the
# names a reader of the sheet knows. Only the platform's push is bound to the field codes
# (docs/integrations.md); this file is read by people, so its headers are Chinese.
BREACH_COLUMNS = [
    ("record_number", "公示记录编号"),
    ("XDR_MC", "失信主体名称"),
    ("XDR_LB", "主体类型"),
    ("XDR_SHXYM", "统一社会信用代码"),
    ("matter", "事项"),
    ("facts", "失信行为"),
    ("basis", "认定依据"),
    ("department_code", "认定部门代码"),
    ("department_name", "认定部门"),
    ("severity_label", "失信程度"),
    ("JDRQ", "决定日期"),
    ("GSJZQ", "公示截止日期"),
    ("state_label", "状态"),
]


def breach_rows(
    *, session: Session, query: RegisterQuery, today: dt.date
) -> tuple[list[str], list[list[Any]]]:
    """The records of the register ``query`` finds on ``today`` (the pages' filter, ``register_select``),
    newest first, individuals' names masked, under Chinese headers."""
    departments = department_names(session)
    stmt = newest_first(register_select(session=session, query=query, today=today)).limit(MAX_ROWS)
    records = [public_fields(b, departments, mask=True) for b in session.exec(stmt).all()]
    return [label for _, label in BREACH_COLUMNS], [[r[key] for key, _ in BREACH_COLUMNS] for r in records]

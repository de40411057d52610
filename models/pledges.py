"""Informed pledges: registration with the credit check (逢办必查), evidence, the authority's decisions,
queries, and bulk import from CSV / XLSX."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import functools
import hashlib
import importlib
import io
import itertools
import json
import multiprocessing
import operator
import queue
import re
import signal
import sys
import threading
import unicodedata
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, NamedTuple

import orjson
from sqlmodel import Session, col, select

from models.accounts import department_by_code
from models.audit import CaseEvent, canonical_json, canonical_json_template
from models.bulk import column_converter, insert_converted_shared, row_converter
from models.calendar import WorkCalendar
from models.clock import utcnow
from models.errors import InvalidCreditCode, NotFound, NotPermitted, ValidationFailed
from models.gcpause import collector_paused
from models.lifecycle import PLEDGE, PledgeState, Role
from models.numbering import PLEDGE_PREFIX, reserve_numbers
from models.org import Department
from models.outbox import Notification, NotificationStatus, enqueue, outbox_row, without_secrets
from models.pledge import Pledge, PledgeCreate, PledgeEvidence, PledgorKind
from models.pledge_access import access_code_maker, new_access_code, new_access_codes
from models.publication import Fired, compute_publication_day, last_events, write_events
from models.register import SHOWN_STATES, false_pledge_of, has_current_breach
from models.settings import get_settings
from models.uscc import validate_credit_code
from models.workflow import Actor, apply_event, record_event

PLEDGE_ACTIONS = ("confirm", "reject_evidence", "confirm_false", "cancel")


def publication_status(pledge: Pledge, calendar: WorkCalendar) -> dict[str, Any]:
    """``computed`` with the day, or ``pending_calendar`` with a message naming the missing year."""
    if pledge.publication_day is not None:
        return {"publication_day_status": "computed", "publication_day_message": None}
    # The first year from the deadline on that the calendar lacks is the one the count stopped at.
    covered = set(calendar.covered_years())
    year = pledge.deadline.year
    while year in covered:
        year += 1
    return {
        "publication_day_status": "pending_calendar",
        "publication_day_message": (
            f"公示日落在 {year} 年，该年节假日安排尚未载入，暂无法计算；"
            f"载入 {year} 年国务院放假通知后自动计算 "
            f"(publication day pending: calendar {year} not loaded)"
        ),
    }


def pledge_view(
    pledge: Pledge, calendar: WorkCalendar, authority: Department | None = None
) -> dict[str, Any]:
    data = pledge.model_dump(exclude={"import_key", "year", "seq", "access_code_digest"})
    data["state_label"] = PLEDGE.state(pledge.state).label
    data["authority_code"] = authority.code if authority else None
    data["authority_name"] = authority.name if authority else None
    data.update(publication_status(pledge, calendar))
    return data


# ---------------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------------


def normalise_pledgor(kind: PledgorKind, credit_code: str | None) -> str | None:
    """The validated code; required for enterprises (an individual may have none)."""
    if credit_code and credit_code.strip():
        return validate_credit_code(credit_code)
    if kind == PledgorKind.ENTERPRISE:
        raise InvalidCreditCode(
            "企业承诺人必须填写统一社会信用代码（18 位）(credit code is required for enterprises)"
        )
    return None


def credit_check(*, session: Session, credit_code: str | None, name: str) -> None:
    """逢办必查: refuse the pledge route to a subject with a current breach or a past false pledge."""
    if not get_settings().credit_check_enabled:
        return
    record = has_current_breach(session=session, credit_code=credit_code, name=name)
    if record:
        raise ValidationFailed(
            f"信用核查未通过：承诺人“{name}”有正在公示的失信记录 {record}，不适用告知承诺方式；"
            "请按一般程序提交完整材料，或在信用修复后再申请 (subject has a current breach record)",
            reason="current_breach",
            record_number=record,
        )
    false = false_pledge_of(session=session, credit_code=credit_code, name=name)
    if false:
        raise ValidationFailed(
            f"信用核查未通过：承诺人“{name}”曾有虚假承诺（承诺编号 {false}），不适用告知承诺方式；"
            "请按一般程序提交完整材料 (subject made a false pledge before)",
            reason="false_pledge",
            pledge_number=false,
        )


def _authority_for(session: Session, code: str, actor: Actor) -> Department:
    authority = department_by_code(session=session, code=code)
    if actor.role == Role.HANDLER and authority.id != actor.department_id:
        raise NotPermitted(
            f"经办人只能登记本部门受理的承诺；部门 {code} 不是您所在的部门 "
            "(handlers register for their own department)"
        )
    return authority


def register_pledge(
    *, session: Session, data: PledgeCreate, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> Pledge:
    """Register one pledge and commit; the access code goes to the pledgor by mail only."""
    pledge, _code = register_pledge_with_code(
        session=session, data=data, actor=actor, today=today, calendar=calendar
    )
    return pledge


def register_pledge_with_code(
    *, session: Session, data: PledgeCreate, actor: Actor, today: dt.date, calendar: WorkCalendar
) -> tuple[Pledge, str]:
    """Register one pledge (a past deadline is accepted: back-registration) and commit; returns it with
    the pledgor's access code (办理码), shown once: only its keyed hash is stored."""
    code = normalise_pledgor(data.pledgor_kind, data.pledgor_credit_code)
    authority = _authority_for(session, data.authority_code, actor)
    assert authority.id is not None
    credit_check(session=session, credit_code=code, name=data.pledgor_name.strip())
    [(seq, number)] = reserve_numbers(session=session, prefix=PLEDGE_PREFIX, year=today.year, count=1)
    day = compute_publication_day(calendar, data.deadline)
    access_code, access_digest = new_access_code()
    pledge = Pledge(
        **data.model_dump(exclude={"authority_code", "pledgor_credit_code", "pledgor_email"}),
        pledgor_credit_code=code,
        pledgor_email=str(data.pledgor_email) if data.pledgor_email else None,
        number=number,
        year=today.year,
        seq=seq,
        authority_id=authority.id,
        publication_day=day,
        calendar_version=calendar.version if day else None,
        registered_by_id=actor.id,
        access_code_digest=access_digest,
    )
    session.add(pledge)
    session.flush()
    record_event(
        session=session,
        case=pledge,
        transition=None,
        from_state=None,
        to_state=pledge.state,
        actor=actor,
        at=utcnow(),
        note=None,
        data={"publication_day": _iso(day)},
        idempotency_key=None,
        event="register",
    )
    enqueue(
        session=session,
        template="pledge_registered",
        recipient_kind="pledgor",
        recipient_name=pledge.pledgor_name,
        recipient_email=pledge.pledgor_email,
        key=f"pledge:{pledge.id}:register:pledge_registered",
        context={**_registered_context(pledge, authority), "access_code": access_code},
        case_kind="pledge",
        case_id=pledge.id,
        case_number=pledge.number,
    )
    session.commit()
    return pledge, access_code


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None


def _registered_context(pledge: Any, authority: Department) -> dict[str, Any]:
    return {
        "pledge_number": pledge.number,
        "pledgor_name": pledge.pledgor_name,
        "matter": pledge.matter,
        "obligation": pledge.obligation,
        "deadline": pledge.deadline.isoformat(),
        "publication_day": _iso(pledge.publication_day),
        "authority_name": authority.name,
    }


def get_pledge(*, session: Session, pledge_id: int, actor: Actor | None = None) -> Pledge:
    """The pledge; a handler of another department gets "not found", as for complaints."""
    pledge = session.get(Pledge, pledge_id)
    if pledge is None or (
        actor is not None and actor.role == Role.HANDLER and actor.department_id != pledge.authority_id
    ):
        raise NotFound(f"承诺 #{pledge_id} 不存在；请核对编号 (no pledge {pledge_id})")
    return pledge


def pledge_action(
    *,
    session: Session,
    pledge_id: int,
    action: str,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
    expected_version: int | None,
    reason: str | None = None,
) -> Pledge:
    """The authority's decisions: confirm (fulfilled), reject_evidence (back to registered, same deadline),
    confirm_false, cancel. Handlers act only on their own department's pledges (others: not found)."""
    if action not in PLEDGE_ACTIONS:
        raise ValidationFailed(f"不支持的操作 {action}；可用：{', '.join(PLEDGE_ACTIONS)} (unknown action)")
    # Another department's handler gets "not found", as on reads: a 403 would confirm the pledge exists.
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)
    if action in ("reject_evidence", "confirm_false", "cancel") and not (reason or "").strip():
        raise ValidationFailed("请填写理由，告知承诺人需要如何补正 (a reason is required)")
    apply_event(
        session=session,
        case=pledge,
        event=action,
        actor=actor,
        today=today,
        calendar=calendar,
        note=(reason or "").strip() or None,
        expected_version=expected_version,
    )
    session.commit()
    return pledge


# ---------------------------------------------------------------------------------------------------
# Evidence
# ---------------------------------------------------------------------------------------------------

# Allowed types, recognised by their first bytes (a renamed .exe is refused whatever its name).
_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "application/pdf", ".pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"PK\x03\x04", "application/ofd", ".ofd"),  # OFD is a ZIP container
)


def sniff(content: bytes) -> str:
    for magic, content_type, _ in _SIGNATURES:
        if content.startswith(magic):
            return content_type
    raise ValidationFailed(
        "文件类型不受支持：仅接受 PDF、PNG、JPEG、OFD 文件（按文件内容识别，与扩展名无关）；请转换后重新上传 "
        "(unsupported file type)"
    )


def sanitise_filename(name: str) -> str:
    """The last path component, control and path characters removed, at most 120 characters."""
    base = unicodedata.normalize("NFKC", name).replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", base).strip(" .")
    return base[:120] or "evidence"


def store_evidence(
    *,
    session: Session,
    pledge_id: int,
    filename: str,
    content: bytes,
    actor: Actor,
    today: dt.date,
    calendar: WorkCalendar,
) -> PledgeEvidence:
    """Store the file under its SHA-256 outside the database and fire ``submit_evidence``."""
    settings = get_settings()
    if len(content) > settings.upload_max_bytes:
        raise ValidationFailed(
            f"文件过大：{len(content)} 字节，上限 {settings.upload_max_bytes} 字节；请压缩或拆分后上传 "
            "(file too large)"
        )
    if not content:
        raise ValidationFailed("文件为空；请选择要上传的材料 (empty file)")
    content_type = sniff(content)
    pledge = get_pledge(session=session, pledge_id=pledge_id, actor=actor)  # hidden from other departments
    PLEDGE.fire(pledge.state, "submit_evidence", actor.role)
    digest = hashlib.sha256(content).hexdigest()
    path = Path(settings.upload_dir) / digest[:2] / digest[2:4] / digest
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(content)
        tmp.replace(path)  # atomic: a crash never leaves half a file under the final name
    row = PledgeEvidence(
        pledge_id=pledge_id,
        filename=sanitise_filename(filename),
        content_type=content_type,
        size=len(content),
        sha256=digest,
        uploaded_by=actor.name,
    )
    session.add(row)
    session.flush()
    apply_event(
        session=session,
        case=pledge,
        event="submit_evidence",
        actor=actor,
        today=today,
        calendar=calendar,
        data={"evidence_id": row.id, "sha256": digest, "filename": row.filename},
    )
    session.commit()
    return row


# ---------------------------------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PledgeQuery:
    state: PledgeState | None = None
    authority: str | None = None
    deadline_from: dt.date | None = None
    deadline_to: dt.date | None = None
    q: str | None = None  # number, pledgor name or credit code (contains)
    after: int | None = None  # keyset: the last id of the previous page
    limit: int = 50


def list_pledges(*, session: Session, query: PledgeQuery, actor: Actor) -> tuple[list[Pledge], int | None]:
    stmt = select(Pledge)
    if actor.role == Role.HANDLER:
        stmt = stmt.where(Pledge.authority_id == actor.department_id)
    if query.state:
        stmt = stmt.where(Pledge.state == query.state)
    if query.authority:
        stmt = stmt.where(Pledge.authority_id == department_by_code(session=session, code=query.authority).id)
    if query.deadline_from:
        stmt = stmt.where(col(Pledge.deadline) >= query.deadline_from)
    if query.deadline_to:
        stmt = stmt.where(col(Pledge.deadline) <= query.deadline_to)
    if query.q:
        like = f"%{query.q.strip()}%"
        stmt = stmt.where(
            col(Pledge.number).like(like)
            | col(Pledge.pledgor_name).like(like)
            | col(Pledge.pledgor_credit_code).like(like)
        )
    if query.after:
        stmt = stmt.where(col(Pledge.id) < query.after)
    limit = max(1, min(query.limit, 200))
    rows = list(session.exec(stmt.order_by(col(Pledge.id).desc()).limit(limit + 1)).all())
    return rows[:limit], (rows[limit - 1].id if len(rows) > limit else None)


def pledge_events(*, session: Session, pledge_id: int, actor: Actor | None = None) -> list[CaseEvent]:
    get_pledge(session=session, pledge_id=pledge_id, actor=actor)
    stmt = select(CaseEvent).where(CaseEvent.case_kind == "pledge", CaseEvent.case_id == pledge_id)
    return list(session.exec(stmt.order_by(col(CaseEvent.seq))).all())


# ---------------------------------------------------------------------------------------------------
# Bulk import
# ---------------------------------------------------------------------------------------------------

# Column names accepted in an import file, Chinese or English, mapped to the field.
HEADERS: dict[str, str] = {
    "pledgor_kind": "pledgor_kind", "承诺人类型": "pledgor_kind", "主体类型": "pledgor_kind",
    "pledgor_name": "pledgor_name", "承诺人名称": "pledgor_name", "承诺人": "pledgor_name",
    "pledgor_credit_code": "pledgor_credit_code", "credit_code": "pledgor_credit_code",
    "统一社会信用代码": "pledgor_credit_code",
    "pledgor_email": "pledgor_email", "email": "pledgor_email", "电子邮箱": "pledgor_email",
    "联系邮箱": "pledgor_email",
    "matter": "matter", "事项": "matter", "承诺事项": "matter",
    "obligation": "obligation", "承诺内容": "obligation", "应补交材料": "obligation",
    "deadline": "deadline", "承诺期限": "deadline", "履约期限": "deadline",
    "authority_code": "authority_code", "authority": "authority_code", "部门代码": "authority_code",
    "受理部门代码": "authority_code",
    "legal_basis": "legal_basis", "依据": "legal_basis", "法律依据": "legal_basis",
}  # fmt: skip
COLUMN_LABELS = {
    "pledgor_kind": "承诺人类型", "pledgor_name": "承诺人名称", "pledgor_credit_code": "统一社会信用代码",
    "pledgor_email": "电子邮箱", "matter": "承诺事项", "obligation": "承诺内容", "deadline": "承诺期限",
    "authority_code": "受理部门代码", "legal_basis": "依据",
}  # fmt: skip
_KINDS = {
    "enterprise": PledgorKind.ENTERPRISE, "企业": PledgorKind.ENTERPRISE, "法人": PledgorKind.ENTERPRISE,
    "individual": PledgorKind.INDIVIDUAL, "个人": PledgorKind.INDIVIDUAL, "自然人": PledgorKind.INDIVIDUAL,
    "government": PledgorKind.GOVERNMENT, "政府部门": PledgorKind.GOVERNMENT, "机关": PledgorKind.GOVERNMENT,
}  # fmt: skip
_LIMITS = {"pledgor_name": 128, "matter": 200, "obligation": 500, "legal_basis": 500, "pledgor_email": 254}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CN_DATE = re.compile(r"^(\d{4})\s*[年/.-]\s*(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*日?$")


@dataclass(frozen=True)
class RowError:
    row: int  # the spreadsheet row number (the header is row 1)
    column: str
    message: str


@dataclass
class ImportReport:
    source: str
    total: int = 0
    imported: int = 0
    already_imported: int = 0
    errors: list[RowError] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    # Access codes of imported pledgors without an e-mail address: their registration notice (with the
    # code) has to be printed and handed over by the authority; everyone else gets it by mail.
    offline_codes: list[dict[str, str]] = field(default_factory=list)

    @property
    def failed_rows(self) -> int:
        return len({e.row for e in self.errors})

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "total": self.total,
            "imported": self.imported,
            "already_imported": self.already_imported,
            "failed": self.failed_rows,
            "errors": [e.__dict__ for e in self.errors],
            "numbers": self.numbers,
            "offline_codes": self.offline_codes,
        }


class ImportRows(Iterator[tuple[int, dict[str, Any]]]):
    """What ``read_import_file`` returns: the rows, one at a time, of a file held in memory.

    It is an ordinary iterator; ``import_pledges`` also asks it whether the file is a CSV large enough to
    validate in a second process, which needs the rows not yet started (a forked child iterates its own
    copy of them, and this process only the rest if the child stops early).
    """

    def __init__(self, content: bytes, filename: str) -> None:
        self.size = len(content)
        self.is_csv = not _is_xlsx(content, filename)
        self.started = False
        self._rows = _read_import_file(content, filename)

    def __next__(self) -> tuple[int, dict[str, Any]]:
        self.started = True
        return next(self._rows)


def read_import_file(content: bytes, filename: str) -> ImportRows:
    """(row number, {field: value}) from a CSV (UTF-8, BOM or not) or XLSX file; unknown columns ignored.
    A file that cannot be read raises ``ValidationFailed`` when the first row is asked for."""
    return ImportRows(content, filename)


def _is_xlsx(content: bytes, filename: str) -> bool:
    return Path(filename).suffix.lower() == ".xlsx" or content.startswith(b"PK\x03\x04")


def _read_import_file(content: bytes, filename: str) -> Iterator[tuple[int, dict[str, Any]]]:
    suffix = Path(filename).suffix.lower()
    if _is_xlsx(content, filename):
        yield from _read_xlsx(content)
    elif suffix in (".csv", ".txt", ""):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed(
                f"{filename} 不是 UTF-8 编码；请在 Excel 中“另存为 CSV UTF-8”后重新导入 (file is not UTF-8)"
            ) from None
        reader = csv.reader(io.StringIO(text))
        yield from _rows(reader)
    else:
        raise ValidationFailed(f"{filename}: 仅支持 .csv 或 .xlsx 文件 (use a CSV or XLSX file)")


def _read_xlsx(content: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationFailed(f"无法读取 Excel 文件：{exc}；请确认是 .xlsx 格式 (unreadable XLSX)") from exc
    try:
        yield from _rows(book.active.iter_rows(values_only=True))
    finally:
        book.close()


def _rows(reader: Iterable[Sequence[Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    iterator = iter(reader)
    header = next(iterator, None)
    if header is None:
        return
    fields = [
        HEADERS.get(str(h or "").strip().lstrip("\ufeff").lower()) or HEADERS.get(str(h or "").strip())
        for h in header
    ]
    if "pledgor_name" not in fields or "deadline" not in fields:
        raise ValidationFailed(
            "导入文件缺少表头：至少需要“承诺人名称/pledgor_name”和“承诺期限/deadline”列；请使用导入模板 "
            "(header row missing required columns)"
        )
    kept = [(i, f) for i, f in enumerate(fields) if f]
    names = [f for _, f in kept]
    # itemgetter picks the mapped cells in C; a short row (fewer cells than the header) takes the zip.
    pick = operator.itemgetter(*(i for i, _ in kept))
    width = kept[-1][0] + 1
    for number, values in enumerate(iterator, start=2):
        # any() is the cheap test for a row with text in it; a row of blanks, zeros or False goes
        # through the exact test (a 0 from a spreadsheet cell counts as content).
        if not any(values) and not any(v not in (None, "") for v in values):
            continue
        if len(values) >= width:
            yield number, dict(zip(names, pick(values), strict=True))
        else:
            yield number, {f: v for f, v in zip(fields, values, strict=False) if f}


def _text(value: Any) -> str:
    if value is None:
        return ""
    text = value if type(value) is str else str(value)
    # ASCII is already in NFKC: only text with other characters pays for the normalisation.
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.strip()


def _parse_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    # The usual spelling, YYYY-MM-DD, read in C (a fourteenth of the regular expression's cost); whatever
    # that refuses goes the general way, which gives the same date or error for every such text.
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        try:  # not contextlib.suppress: its two Python-level calls cost more than the parse
            return dt.date.fromisoformat(text)
        except ValueError:
            pass
    match = _CN_DATE.match(text)
    if match:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    return dt.date.fromisoformat(text)


def _check_text(v: dict[str, Any], bad: Callable[[str, str], None]) -> None:
    for column in ("pledgor_name", "matter", "obligation"):
        if not v[column]:
            bad(column, "必填项未填写")
    for column, limit in _LIMITS.items():
        if len(v[column]) > limit:
            bad(column, f"内容过长（{len(v[column])} 字），上限 {limit} 字")
    if v["pledgor_email"] and not _EMAIL.match(v["pledgor_email"]):
        bad("pledgor_email", f"“{v['pledgor_email']}”不是有效的电子邮箱地址")


class _Row(NamedTuple):
    # A tuple: cheap to build, and to send from the validating child (_validated_in_child).
    number: int
    values: dict[str, Any]
    key: str
    code: tuple[str, str] | None = None  # the access code (shown, digest), once made


_TEXT_COLUMNS = tuple(k for k in COLUMN_LABELS if k != "deadline")


def _validate_row(
    number: int, raw: dict[str, Any], authorities: dict[str, int], default_authority: str | None
) -> tuple[_Row | None, list[RowError]]:
    errors: list[RowError] = []
    get = raw.get
    v: dict[str, Any] = {k: _text(get(k)) for k in _TEXT_COLUMNS}

    def bad(column: str, message: str) -> None:
        errors.append(RowError(number, COLUMN_LABELS[column], message))

    kind = _KINDS.get(v["pledgor_kind"].lower() or "enterprise")
    if kind is None:
        bad("pledgor_kind", f"“{v['pledgor_kind']}”不是有效类型；请填 企业、个人 或 政府部门")
    _check_text(v, bad)
    try:
        v["pledgor_credit_code"] = normalise_pledgor(kind or PledgorKind.ENTERPRISE, v["pledgor_credit_code"])
    except InvalidCreditCode as exc:
        bad("pledgor_credit_code", exc.message)
    try:
        v["deadline"] = _parse_date(get("deadline"))
    except (ValueError, TypeError):
        bad("deadline", f"“{_text(get('deadline'))}”不是有效日期；请写成 YYYY-MM-DD，如 2026-04-30")
    code = v["authority_code"] or default_authority or ""
    if code not in authorities:
        bad(
            "authority_code",
            f"部门代码“{code}”不存在或无权导入；请填写本部门代码" if code else "必填项未填写",
        )
    if errors:
        return None, errors
    v["pledgor_kind"], v["authority_id"] = kind, authorities[code]
    v["pledgor_email"] = v["pledgor_email"] or None
    del v["authority_code"]
    return _Row(number, v, _import_key(v)), []


# What json.dumps(ensure_ascii=False) writes for one string (the C encoder, where the build has it).
_json_string = json.encoder.encode_basestring


def _cpython_sha256() -> Callable[[bytes], Any] | None:
    """CPython's own SHA-256 (``_sha2`` from 3.12, ``_sha256`` before), or None if the build lacks it.

    The validating child is forked, possibly from a server thread while other threads run; OpenSSL 3
    (hashlib's usual SHA-256, and every hmac call) looks its algorithms up in a method store guarded by
    read-write locks, which a thread of the parent may hold at the fork and nobody would release in the
    child. CPython's implementation holds no lock, and for the short inputs here it is as fast (the
    import key) or faster (the HMAC, with its padded-key states hashed once: models.pledge_access).
    """
    for name in ("_sha2", "_sha256"):
        with contextlib.suppress(ImportError, AttributeError):
            return importlib.import_module(name).sha256  # type: ignore[no-any-return]
    return None


# Imported here, in the parent: the child loads no module (dlopen and the import machinery take locks).
_LOCK_FREE_SHA256 = _cpython_sha256()
_key_sha256: Callable[[bytes], Any] = _LOCK_FREE_SHA256 or hashlib.sha256


def _import_key(v: dict[str, Any]) -> str:
    """SHA-256 over exactly the bytes earlier releases hashed: ``json.dumps(v, sort_keys=True,
    ensure_ascii=False, default=str)`` with json's default separators (", " and ": "). A file imported
    before an upgrade and imported again after it must still count as already imported; canonical_json
    (the audit chain's compact form) would change every key.

    The row's nine fields are written in their sorted order by hand, a third of the cost of json.dumps
    (tests compare the two); a value of any other type than the validated row has takes json.dumps.
    """
    authority, deadline, kind = v["authority_id"], v["deadline"], v["pledgor_kind"]
    code, email = v["pledgor_credit_code"], v["pledgor_email"]
    # Written out rather than any() over the names: a generator per row was a fifth of this function.
    if (
        len(v) != 9
        or type(authority) is not int
        or type(deadline) is not dt.date
        or not isinstance(kind, str)
        or type(v["legal_basis"]) is not str
        or type(v["matter"]) is not str
        or type(v["obligation"]) is not str
        or type(v["pledgor_name"]) is not str
        or (code is not None and type(code) is not str)
        or (email is not None and type(email) is not str)
    ):
        canonical = json.dumps(v, sort_keys=True, ensure_ascii=False, default=str)
    else:
        canonical = (
            f'{{"authority_id": {authority}, "deadline": "{deadline}", '
            f'"legal_basis": {_json_string(v["legal_basis"])}, "matter": {_json_string(v["matter"])}, '
            f'"obligation": {_json_string(v["obligation"])}, '
            f'"pledgor_credit_code": {"null" if code is None else _json_string(code)}, '
            f'"pledgor_email": {"null" if email is None else _json_string(email)}, '
            f'"pledgor_kind": {_json_string(kind)}, "pledgor_name": {_json_string(v["pledgor_name"])}}}'
        )
    return _key_sha256(canonical.encode()).hexdigest()  # type: ignore[no-any-return]


def _fetch_in(
    session: Session, sql: str, values: Sequence[Any], *, size: int = 5000
) -> list[tuple[Any, ...]]:
    """The rows of ``sql`` whose ``{values}`` is a membership test of a column in ``values``, run through
    the driver a chunk at a time: SQLAlchemy's expanding IN rendered 5,000 bound parameters per query in
    Python, as much as the validation of the rows they were for."""
    connection = session.connection()
    dialect = connection.dialect
    mark = "?" if dialect.paramstyle == "qmark" else "%s"
    out: list[tuple[Any, ...]] = []
    for start in range(0, len(values), size):
        part = list(values[start : start + size])
        if dialect.name == "postgresql":
            statement, params = sql.format(values=f"= ANY({mark})"), (part,)
        else:
            statement, params = sql.format(values=f"IN ({', '.join([mark] * len(part))})"), tuple(part)
        out.extend(tuple(r) for r in connection.exec_driver_sql(statement, params))
    return out


def _names(states: Iterable[Any]) -> str:
    # Enum columns store the member's name; these are our own enum names, safe to write as literals.
    return ", ".join(f"'{s.name}'" for s in states)


def _refused_by_credit_check(session: Session, rows: list[_Ready]) -> dict[str, str]:
    """Credit codes / names with a current breach or a past false pledge, with the reason (set-based)."""
    if not get_settings().credit_check_enabled or not rows:
        return {}
    codes = list({r.credit_code for r in rows if r.credit_code})
    names = list({r.name for r in rows if not r.credit_code})
    shown, false = _names(SHOWN_STATES), _names([PledgeState.FALSE_PLEDGE])
    refused: dict[str, str] = {}
    for code, number in _fetch_in(
        session,
        f"SELECT subject_credit_code, number FROM published_breach WHERE state IN ({shown}) "
        "AND subject_credit_code {values}",
        codes,
    ):
        refused[str(code)] = f"信用核查未通过：有正在公示的失信记录 {number}，不适用告知承诺方式"
    for code, number in _fetch_in(
        session,
        f"SELECT pledgor_credit_code, number FROM pledge WHERE state IN ({false}) "
        "AND pledgor_credit_code {values}",
        codes,
    ):
        refused.setdefault(str(code), f"信用核查未通过：曾有虚假承诺（{number}），不适用告知承诺方式")
    # Subjects without a code, by exact name, as has_current_breach / false_pledge_of match them: two IN
    # queries per chunk instead of two queries per name. A shown record outranks a false pledge.
    by_name: dict[str, str] = {}
    for name, number in _fetch_in(
        session,
        f"SELECT subject_name, number FROM published_breach WHERE subject_credit_code IS NULL "
        f"AND state IN ({shown}) AND subject_name {{values}}",
        names,
    ):
        by_name.setdefault(name, number)
    for name, number in _fetch_in(
        session,
        f"SELECT pledgor_name, number FROM pledge WHERE pledgor_credit_code IS NULL "
        f"AND state IN ({false}) AND pledgor_name {{values}}",
        names,
    ):
        by_name.setdefault(name, number)
    for name, reason in by_name.items():
        refused[name] = f"信用核查未通过：有失信记录或虚假承诺（{reason}），不适用告知承诺方式"
    return refused


# Rows validated, checked and inserted at a time: memory stays bounded for any file size.
IMPORT_CHUNK = 5000


def import_pledges(
    *,
    session: Session,
    rows: Iterable[tuple[int, dict[str, Any]]],
    actor: Actor,
    source_name: str,
    today: dt.date,
    calendar: WorkCalendar,
    default_authority: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Validate every row in Python and insert the good ones in bulk, in one transaction (and commit).

    ``progress``, if given, is called with the number of rows read so far after each chunk (the CLI's
    progress bar): wrapping ``rows`` in a counting generator instead would hide the file from the
    second process that validates a large CSV.

    Bad rows are reported (row, column, why) and not imported; a row whose content was imported before
    (same ``import_key``) is counted as already imported, so importing a file twice adds nothing.
    The file is worked through in chunks of ``IMPORT_CHUNK`` rows, all in the one transaction: rows of a
    chunk inserted earlier are only ever registered pledges, which neither the duplicate check (it also
    remembers every key of the file) nor the credit check (breaches and false pledges) can be told apart
    from a single pass by.
    """
    report = ImportReport(source=source_name)
    departments = {d.code: d for d in session.exec(select(Department)).all()}
    authorities = {
        code: d.id for code, d in departments.items()
        if d.id is not None and (actor.role != Role.HANDLER or d.id == actor.department_id)
    }  # fmt: skip
    seen: set[str] = set()
    refusals: list[RowError] = []
    with collector_paused():
        prep = _Preparer(calendar, departments, session.connection().dialect.name)
        if isinstance(rows, ImportRows) and not rows.started and rows.is_csv and _forking_pays(rows.size):
            batches = _read_ahead(_validated_in_child(rows, authorities, default_authority, prep))
        else:
            batches = prep.batches(_validated(rows, authorities, default_authority, 0))
        # Closed here if a chunk fails, not whenever the traceback lets go of it: that ends the child
        # and the thread receiving from it.
        with contextlib.closing(batches):
            for batch in batches:
                report.total = batch.total
                report.errors += batch.errors
                _import_chunk(session, batch, seen, refusals, report, actor, today)
                if progress is not None:
                    progress(batch.total)
    # Refusals by the credit check follow every validation error, as when the whole file was one chunk.
    report.errors += refusals
    session.commit()
    return report


@dataclass
class _Batch:
    total: int  # rows of the file read so far
    errors: list[RowError]  # of the rows read since the previous batch
    rows: list[Any]  # the valid ones among them: _Row from _validated, _Ready once prepared


def _validated(
    rows: Iterable[tuple[int, dict[str, Any]]],
    authorities: dict[str, int],
    default_authority: str | None,
    total: int,
    first: int | None = None,
) -> Iterator[_Batch]:
    """The rows validated in batches of ``IMPORT_CHUNK`` rows read (the first of ``first``, if given);
    ``total`` counts the rows read before."""
    batch, end = _Batch(total, [], []), total + (first or IMPORT_CHUNK)
    for number, raw in rows:
        batch.total += 1
        row, errors = _validate_row(number, raw, authorities, default_authority)
        if errors:
            batch.errors += errors
        if row is not None:
            batch.rows.append(row)
        if batch.total >= end:
            yield batch
            batch, end = _Batch(batch.total, [], []), batch.total + IMPORT_CHUNK
    yield batch


# A CSV from this size on is parsed and validated by a forked child while this process checks and
# inserts the rows validated before: validation is pure Python and needs no database, and SQLite has one
# writer, so this is how an import uses a second core. Smaller files are not worth the fork.
#
# Fork safety. The fork may be taken by a server worker thread while other threads run, and only the
# forking thread exists in the child: any lock another thread held at that moment stays held there. The
# child therefore runs only code that takes no such lock, all of it loaded and set up in the parent:
# - the csv module, str/bytes, re, datetime, unicodedata, json's C string encoder, pickle and the pipe's
#   os.write: C code under the GIL, which CPython re-creates in the child, with no locks of their own;
# - models.uscc and the calendar (pure Python; functools.cache and lru_cache are lock-free in C), the
#   settings already cached by get_settings in the parent (_Preparer), orjson (Rust, no locks);
# - SHA-256 and HMAC from CPython's own hash module, never OpenSSL (_cpython_sha256: OpenSSL 3's method
#   store is guarded by read-write locks); without it no child is started;
# - random bytes from os.urandom (the getrandom system call); malloc, whose locks glibc resets at fork.
# It touches no database connection (SQLite's mutexes may be held by another thread), logs nothing (a
# handler's lock; logging re-creates its own at fork anyway), imports nothing, and the cyclic collector
# stays off (_collector_paused), so no finaliser of an inherited object runs in it. Its exit flushes
# stdout/stderr, whose buffer lock a printing thread may hold: that happens after its last message, and
# this process kills a child still alive then. Whatever else hangs it is ended after the silence below.
FORK_MIN_BYTES = 512 * 1024
# The child sends a batch at least this often; one that goes quiet longer is ended and the rest of the
# file validated here.
_CHILD_SILENCE_SECONDS = 60.0
_FIRST_BATCH = 500


def _forking_pays(size: int) -> bool:
    # Linux only: elsewhere fork without exec is unsafe with system libraries (macOS) or missing. A build
    # without CPython's SHA-256 would have the child call OpenSSL.
    return size >= FORK_MIN_BYTES and sys.platform.startswith("linux") and _LOCK_FREE_SHA256 is not None


def _validated_in_child(
    rows: ImportRows, authorities: dict[str, int], default_authority: str | None, prep: _Preparer
) -> Generator[_Batch, None, None]:
    """``_validated``'s batches, made ready to insert by a forked child from its copy of ``rows``. Whatever
    stops the child (an unreadable file, a crash, a hang) stops it after its last whole batch; this process
    then validates the rows after that one from its own, untouched copy, and meets the same error if any."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(
        target=_validate_in_child, args=(rows, authorities, default_authority, prep, sender), daemon=True
    )
    total = 0
    try:
        child.start()
    except (AssertionError, OSError):  # a daemonic process may have no children; no process left
        receiver.close()
        sender.close()
        yield from prep.batches(_validated(rows, authorities, default_authority, total))
        return
    sender.close()
    try:
        while receiver.poll(_CHILD_SILENCE_SECONDS):
            try:
                message = receiver.recv()
            except EOFError:
                break
            if message is None:
                break
            total, errors, ready, done = message
            yield _Batch(total, errors, list(map(_as_ready, ready)))
            if done:
                return
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()  # not SIGTERM: the child inherited the server's handlers for it
        child.join()
    rest = itertools.islice(rows, total, None)
    yield from prep.batches(_validated(rest, authorities, default_authority, total))


def _read_ahead(batches: Generator[_Batch, None, None]) -> Generator[_Batch, None, None]:
    """``batches``, the next one received from the child (and unpickled, a tenth of this process's work)
    by a thread while this one inserts the one before: the driver gives up the GIL while SQLite runs an
    INSERT of a thousand rows. The thread runs the generator from start to end, so the child is started,
    waited for and ended there (and the rest of the file validated there if it stops early); whatever
    the generator raises is raised here. When the caller stops early the thread closes the generator."""
    slots: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=1)
    stop = threading.Event()
    thread = threading.Thread(
        target=_receive, args=(batches, slots, stop), name="import-read-ahead", daemon=True
    )
    thread.start()
    try:
        while True:
            kind, value = slots.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


def _receive(
    batches: Generator[_Batch, None, None], slots: queue.Queue[tuple[str, Any]], stop: threading.Event
) -> None:
    try:
        for batch in batches:
            if not _hand_over(slots, stop, ("batch", batch)):
                return
        _hand_over(slots, stop, ("end", None))
    except BaseException as exc:  # raised again in the importing thread
        _hand_over(slots, stop, ("error", exc))
    finally:
        batches.close()  # if stopped early: ends the child (_validated_in_child's finally)


def _hand_over(slots: queue.Queue[tuple[str, Any]], stop: threading.Event, item: tuple[str, Any]) -> bool:
    while not stop.is_set():
        try:
            slots.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False


def _validate_in_child(
    rows: ImportRows,
    authorities: dict[str, int],
    default_authority: str | None,
    prep: _Preparer,
    sender: Connection,
) -> None:
    # The child of a server worker inherits its signal handlers and the event loop's wake-up descriptor:
    # a signal here must end this process, not wake (or stop) the parent's loop.
    with contextlib.suppress(ValueError, OSError):
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
    total, done = 0, False
    # Whatever goes wrong here, the parent validates the rows after the last batch sent and meets it.
    with contextlib.suppress(BaseException):
        # A small first batch: the parent has nothing to do until it arrives.
        for batch in prep.batches(_validated(rows, authorities, default_authority, 0, first=_FIRST_BATCH)):
            # As plain tuples: pickle writes and reads those in C, a NamedTuple through Python calls.
            sender.send((batch.total, batch.errors, list(map(tuple, batch.rows)), False))
            total = batch.total
        done = True
    with contextlib.suppress(OSError):
        sender.send((total, [], [], True) if done else None)
    sender.close()


class _Ready(NamedTuple):
    """A valid row with everything about its pledge, event and mail that needs no database, in the form
    the driver stores: made by the validating process (the child, for a large CSV), so the inserting one
    only adds the number, the id and the hash chain. Plain values only: cheap to pickle."""

    number: int  # the spreadsheet row
    key: str  # the import key
    credit_code: str | None
    name: str
    email: str | None
    code: str  # the access code as shown
    pledge: tuple[Any, ...]  # _PLEDGE_OWN's values, converted
    data: str  # the register event's data, as stored
    data_hashed: bytes  # and as its canonical JSON
    mail: tuple[Any, ...]  # (status, last_error) converted, and the context after its pledge number


# A _Ready from its plain tuple, without the Python-level __new__ a NamedTuple has.
_as_ready = functools.partial(tuple.__new__, _Ready)

# The pledge's columns whose values come from its row; _PLEDGE_COLUMNS adds the ones given at insert.
_PLEDGE_OWN = (
    "pledgor_kind", "pledgor_name", "pledgor_credit_code", "pledgor_email", "matter", "obligation",
    "deadline", "legal_basis", "authority_id", "publication_day", "calendar_version", "import_key",
    "access_code_digest",
)  # fmt: skip
# The columns each row has its own value of; the others' values are shared by a chunk's rows
# (insert_converted_shared binds them once per statement).
_PLEDGE_COLUMNS = (*_PLEDGE_OWN, "number", "seq")
_EVENT_COLUMNS = ("case_id", "case_number", "data", "hash")
_MAIL_COLUMNS = (
    "recipient_name", "recipient_email", "case_id", "case_number", "context", "status", "last_error",
    "idempotency_key",
)  # fmt: skip
_MAIL_TEMPLATE = "pledge_registered"


class _Preparer:
    """Makes validated rows ``_Ready``: the access codes, the publication day, and each stored value as
    ``insert_rows``/``outbox_row``/``write_events`` would have written it (tests compare the rows)."""

    def __init__(self, calendar: WorkCalendar, departments: dict[str, Department], dialect: str) -> None:
        self.calendar = calendar
        self.authority_names = {d.id: d.name for d in departments.values()}
        pledge, mail = Pledge.__table__, Notification.__table__  # type: ignore[attr-defined]
        # Values a chunk repeats (kinds, deadlines, the two mail states) are converted once.
        kind = column_converter(pledge, "pledgor_kind", dialect)
        self.kinds = {k: kind(k) for k in PledgorKind}
        self.date = column_converter(pledge, "deadline", dialect)
        status = column_converter(mail, "status", dialect)
        self.pending = status(NotificationStatus.PENDING)
        self.undeliverable = status(NotificationStatus.UNDELIVERABLE)
        self.context_json = column_converter(mail, "context", dialect)
        # The access codes' HMAC key and the settings compute_publication_day reads, taken here (before any
        # fork): the child must not build the settings, and must not call OpenSSL.
        get_settings()
        self.codes = new_access_codes if _LOCK_FREE_SHA256 is None else access_code_maker(_LOCK_FREE_SHA256)
        self.data_json = column_converter(CaseEvent.__table__, "data", dialect)  # type: ignore[attr-defined]
        # What outbox_row records for a mail without an address, so both paths store the same words.
        self.no_address = outbox_row(
            template=_MAIL_TEMPLATE, recipient_kind="pledgor", recipient_name="", recipient_email=None,
            key="", context={}, now=utcnow(),
        )["last_error"]  # fmt: skip

    def batches(self, batches: Iterable[_Batch]) -> Generator[_Batch, None, None]:
        for batch in batches:
            yield _Batch(batch.total, batch.errors, self.ready(batch.rows))

    def _day(self, deadline: dt.date) -> tuple[Any, ...]:
        """What a row's deadline decides: (deadline and publication day converted, calendar version, the
        deadline and day as the mail writes them, the event's data as stored and as hashed)."""
        day = compute_publication_day(self.calendar, deadline)
        data = {"publication_day": _iso(day), "source": "import"}
        return (
            self.date(deadline), self.date(day), self.calendar.version if day else None,
            deadline.isoformat(), _iso(day), self.data_json(data), canonical_json(data),
        )  # fmt: skip

    def ready(self, rows: list[Any]) -> list[Any]:
        # One tuple per deadline, shared by its rows: pickle also sends each shared value once a batch.
        days: dict[dt.date, tuple[Any, ...]] = {}
        names, kinds, context_json = self.authority_names, self.kinds, self.context_json
        pending, undeliverable, no_address = self.pending, self.undeliverable, self.no_address
        out = []
        for row, (code, digest) in zip(rows, self.codes(len(rows)), strict=True):
            v = row.values
            deadline = v["deadline"]
            known = days.get(deadline)
            if known is None:
                known = days[deadline] = self._day(deadline)
            stored_deadline, stored_day, version, deadline_iso, day_iso, data, data_hashed = known
            email, name, matter, obligation = (
                v["pledgor_email"],
                v["pledgor_name"],
                v["matter"],
                v["obligation"],
            )
            authority, credit_code = v["authority_id"], v["pledgor_credit_code"]
            pledge = (
                kinds[v["pledgor_kind"]], name, credit_code, email, matter, obligation, stored_deadline,
                v["legal_basis"], authority, stored_day, version, row.key, digest,
            )  # fmt: skip
            # The keys and order of _registered_context after the number (a test compares both paths'
            # mails); a mail without an address keeps no secret (outbox_row).
            context = {
                "pledgor_name": name, "matter": matter, "obligation": obligation, "deadline": deadline_iso,
                "publication_day": day_iso, "authority_name": names[authority], "access_code": code,
            }  # fmt: skip
            if email:
                mail = (pending, None, context_json(context)[1:])
            else:
                mail = (undeliverable, no_address, context_json(without_secrets(context))[1:])
            out.append(
                _Ready(row.number, row.key, credit_code, name, email, code, pledge, data, data_hashed, mail)
            )
        return out


def _import_chunk(
    session: Session,
    batch: _Batch,
    seen: set[str],
    refusals: list[RowError],
    report: ImportReport,
    actor: Actor,
    today: dt.date,
) -> None:
    """Duplicate check, credit check and insert for one chunk of valid rows, in the caller's transaction."""
    if not batch.rows:
        return
    seen |= _existing_import_keys(session, [r.key for r in batch.rows if r.key not in seen])
    fresh: list[_Ready] = []
    for row in batch.rows:
        if row.key in seen:
            report.already_imported += 1
        else:
            seen.add(row.key)
            fresh.append(row)
    refused = _refused_by_credit_check(session, fresh)
    accepted = []
    for row in fresh:
        reason = refused.get(row.credit_code or row.name)
        if reason:
            refusals.append(RowError(row.number, COLUMN_LABELS["pledgor_credit_code"], reason))
        else:
            accepted.append(row)
    if accepted:
        numbers, offline = _insert_pledges(session, accepted, actor, today)
        report.numbers += numbers
        report.offline_codes += offline
        report.imported += len(accepted)


def _existing_import_keys(session: Session, keys: list[str]) -> set[str]:
    found = _fetch_in(session, "SELECT import_key FROM pledge WHERE import_key {values}", keys)
    return {k for (k,) in found if k}


def _insert_pledges(
    session: Session, rows: list[_Ready], actor: Actor, today: dt.date
) -> tuple[list[str], list[dict[str, str]]]:
    """Insert the pledges, their ``register`` events and registration notices (each with the pledge's
    access code) through the driver-level bulk path. Returns the numbers, and the codes of pledgors
    without an e-mail address, whose notice the authority must deliver on paper."""
    now = utcnow()
    connection = session.connection()
    dialect = connection.dialect.name
    numbers = reserve_numbers(session=session, prefix=PLEDGE_PREFIX, year=today.year, count=len(rows))
    # The values every row of the chunk shares, converted once.
    stamp = row_converter(Notification.__table__, ("created_at",), dialect)((now,))[0]  # type: ignore[attr-defined]
    year = today.year
    registered = column_converter(Pledge.__table__, "state", dialect)(PledgeState.REGISTERED)  # type: ignore[attr-defined]
    shared = {
        "state": registered, "version": 1, "stage_seq": 0, "stage_deadline": None, "year": year,
        "registered_by_id": actor.id, "created_at": stamp, "updated_at": stamp,
    }  # fmt: skip
    pledges = [(*r.pledge, number, seq) for r, (seq, number) in zip(rows, numbers, strict=True)]
    insert_converted_shared(session, Pledge.__table__, shared, _PLEDGE_COLUMNS, pledges)  # type: ignore[attr-defined]
    # The numbers were reserved for this import alone, as one run of seqs: the rows carrying them are
    # the ones just inserted, found by a range scan of the unique (year, seq) index.
    found = connection.exec_driver_sql(
        "SELECT seq, id FROM pledge WHERE year = {p} AND seq BETWEEN {p} AND {p}".format(
            p="?" if connection.dialect.paramstyle == "qmark" else "%s"
        ),
        (year, numbers[0][0], numbers[-1][0]),
    )
    id_of: dict[int, int] = dict(found.tuples().all())
    ids = [id_of[seq] for seq, _ in numbers]
    _register_events(session, rows, ids, numbers, actor, now, stamp)
    template = _MAIL_TEMPLATE
    mails = []
    offline = []
    for r, pid, (_, number) in zip(rows, ids, numbers, strict=True):
        status, error, tail = r.mail
        # The context's JSON as outbox_row's dict stores it: the number first, then the row's part.
        context = f'{{"pledge_number":{orjson.dumps(number).decode()},{tail}'
        mails.append((
            r.name, r.email, pid, number, context, status, error, f"pledge:{pid}:register:{template}"[:200],
        ))  # fmt: skip
        if not r.email:
            offline.append({"number": number, "pledgor_name": r.name, "access_code": r.code})
    shared = {
        "template": template, "recipient_kind": "pledgor", "case_kind": "pledge", "attempts": 0,
        "next_attempt_at": stamp, "created_at": stamp, "sent_at": None, "flow_run_id": actor.flow_run_id,
    }  # fmt: skip
    insert_converted_shared(session, Notification.__table__, shared, _MAIL_COLUMNS, mails)  # type: ignore[attr-defined]
    return [number for _, number in numbers], offline


def _register_events(
    session: Session,
    rows: list[_Ready],
    ids: list[int],
    numbers: list[tuple[int, str]],
    actor: Actor,
    now: dt.datetime,
    stamp: Any,
) -> None:
    """The ``register`` event of each new pledge, as ``write_events`` writes it: the first of its case
    (seq 1, no previous hash), its hash over a canonical form whose shared fields are written once."""
    to, role = str(PledgeState.REGISTERED), str(actor.role)
    fields = {
        "kind": "pledge", "case": 0, "seq": 1, "event": "register", "from": None, "to": to,
        "actor": actor.id, "actor_name": actor.name, "role": role,
        "at": now.astimezone(dt.UTC).isoformat(timespec="microseconds"), "note": None, "data": {},
        "run": actor.flow_run_id,
    }  # fmt: skip
    # "case" and "data" are neighbours in the sorted keys: the template is (before, between, after).
    template = canonical_json_template(fields, ("case", "data"))
    if template is None or last_events(session=session, kind="pledge", ids=ids):
        # A shared value the template cannot write, or events already under these ids: the general path.
        days = {
            number: orjson.loads(r.data)["publication_day"]
            for r, (_, number) in zip(rows, numbers, strict=True)
        }
        write_events(
            session=session,
            kind="pledge",
            fired=[Fired(pid, number, "", to) for pid, (_, number) in zip(ids, numbers, strict=True)],
            event="register",
            actor=actor,
            now=now,
            data=lambda f: {"publication_day": days[f.number], "source": "import"},
        )
        return
    before, between, after = template
    sha256 = hashlib.sha256
    events = [
        (
            pid,
            number,
            r.data,
            sha256(b"".join((before, str(pid).encode(), between, r.data_hashed, after))).hexdigest(),
        )
        for r, pid, (_, number) in zip(rows, ids, numbers, strict=True)
    ]
    shared = {
        "case_kind": "pledge", "seq": 1, "event": "register", "from_state": None, "to_state": to,
        "actor_id": actor.id, "actor_name": actor.name, "actor_role": role, "at": stamp, "note": None,
        "flow_run_id": actor.flow_run_id, "idempotency_key": None, "prev_hash": "",
    }  # fmt: skip
    insert_converted_shared(session, CaseEvent.__table__, shared, _EVENT_COLUMNS, events)  # type: ignore[attr-defined]

"""Reading and validating the rows of a pledge import file (CSV or XLSX): no database, no side effects.

``read_import_file`` yields ``(row number, {field: cell})``; ``validate_row`` turns one into a
``ValidRow`` (the pledge's values and its import key) or the reasons it was refused, each naming the
spreadsheet row and the column as the user wrote it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import re
import unicodedata
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import InvalidCreditCode, ValidationFailed
from models.pledge import PledgorKind, check_deadline, normalise_phone
from models.pledges.registration import normalise_pledgor

# Column names accepted in an import file, Chinese or English, mapped to the field.
HEADERS: dict[str, str] = {
    "pledgor_kind": "pledgor_kind", "承诺人类型": "pledgor_kind", "主体类型": "pledgor_kind",
    "pledgor_name": "pledgor_name", "承诺人名称": "pledgor_name", "承诺人": "pledgor_name",
    "pledgor_credit_code": "pledgor_credit_code", "credit_code": "pledgor_credit_code",
    "统一社会信用代码": "pledgor_credit_code",
    "pledgor_email": "pledgor_email", "email": "pledgor_email", "电子邮箱": "pledgor_email",
    "联系邮箱": "pledgor_email",
    "pledgor_phone": "pledgor_phone", "phone": "pledgor_phone", "联系电话": "pledgor_phone",
    "手机号码": "pledgor_phone",
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
    "authority_code": "受理部门代码", "legal_basis": "依据", "pledgor_phone": "联系电话",
}  # fmt: skip
_KINDS = {
    "enterprise": PledgorKind.ENTERPRISE, "企业": PledgorKind.ENTERPRISE, "法人": PledgorKind.ENTERPRISE,
    "individual": PledgorKind.INDIVIDUAL, "个人": PledgorKind.INDIVIDUAL, "自然人": PledgorKind.INDIVIDUAL,
    "government": PledgorKind.GOVERNMENT, "政府部门": PledgorKind.GOVERNMENT, "机关": PledgorKind.GOVERNMENT,
}  # fmt: skip
_LIMITS = {"pledgor_name": 128, "matter": 200, "obligation": 500, "legal_basis": 500, "pledgor_email": 254}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CN_DATE = re.compile(r"^(\d{4})\s*[年/.-]\s*(\d{1,2})\s*[月/.-]\s*(\d{1,2})\s*日?$")
_TEXT_COLUMNS = tuple(k for k in COLUMN_LABELS if k != "deadline")


@dataclass(frozen=True)
class RowError:
    row: int  # the spreadsheet row number (the header is row 1)
    column: str
    message: str


@dataclass(frozen=True)
class ValidRow:
    number: int  # the spreadsheet row
    values: dict[str, Any]  # the pledge's fields, authority_id instead of the code
    key: str  # import_key: the same content imported again is recognised by it


def is_xlsx(content: bytes, filename: str) -> bool:
    return Path(filename).suffix.lower() == ".xlsx" or content.startswith(b"PK\x03\x04")


def estimate_rows(content: bytes, filename: str) -> int | None:
    """A CSV's data rows to within quoted line breaks (lines less the header), known before reading;
    None for a spreadsheet."""
    return None if is_xlsx(content, filename) else max(0, content.count(b"\n") - 1)


def read_import_file(content: bytes, filename: str) -> Generator[tuple[int, dict[str, Any]], None, None]:
    """(row number, {field: value}) from a CSV (UTF-8, BOM or not) or XLSX file; unknown columns ignored.
    A file that cannot be read raises ``ValidationFailed`` when the first row is asked for."""
    suffix = Path(filename).suffix.lower()
    if is_xlsx(content, filename):
        yield from _read_xlsx(content)
    elif suffix in (".csv", ".txt", ""):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ValidationFailed(
                f"{filename} 不是 UTF-8 编码；请在 Excel 中“另存为 CSV UTF-8”后重新导入 (file is not UTF-8)"
            ) from None
        reader = csv.reader(io.StringIO(text))
        try:
            yield from _rows(reader)
        except csv.Error as exc:
            # A row the csv module cannot read (an unclosed quote, a cell over its size limit): the import
            # stops there with the line, as the upload check stops a file it cannot read at all.
            raise ValidationFailed(
                f"{filename} 第 {reader.line_num} 行 CSV 格式错误：{exc}；"
                f"请检查该行的引号和单元格长度后重新导入 (malformed CSV at line {reader.line_num})"
            ) from exc
    else:
        raise ValidationFailed(f"{filename}: 仅支持 .csv 或 .xlsx 文件 (use a CSV or XLSX file)")


def check_import_file(content: bytes, filename: str) -> None:
    """Raise ``ValidationFailed`` now for a file the import could not read at all (format, encoding,
    header), so an upload is refused at once rather than queued to fail later."""
    rows = read_import_file(content, filename)
    try:
        next(rows, None)
    finally:
        rows.close()


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
        raise ValidationFailed(
            "导入文件是空的：没有表头，也没有数据行；请使用导入模板填写后重新导入 (the file is empty)"
        )
    fields = [
        HEADERS.get(str(h or "").strip().lstrip("\ufeff").lower()) or HEADERS.get(str(h or "").strip())
        for h in header
    ]
    if "pledgor_name" not in fields or "deadline" not in fields:
        raise ValidationFailed(
            "导入文件缺少表头：至少需要“承诺人名称/pledgor_name”和“承诺期限/deadline”列；请使用导入模板 "
            "(header row missing required columns)"
        )
    for number, values in enumerate(iterator, start=2):
        # A row of blanks is skipped; a 0 from a spreadsheet cell counts as content.
        if all(v in (None, "") for v in values):
            continue
        yield number, {f: v for f, v in zip(fields, values, strict=False) if f}


def _text(value: Any) -> str:
    if value is None:
        return ""
    return unicodedata.normalize("NFKC", str(value)).strip()


def parse_date(value: Any) -> dt.date:
    """A deadline cell: a spreadsheet date, ``YYYY-MM-DD`` or ``2026年4月30日`` (also with / or .)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = _text(value)
    match = _CN_DATE.match(text)
    if match:
        return dt.date(int(match[1]), int(match[2]), int(match[3]))
    return dt.date.fromisoformat(text)


def import_key(values: dict[str, Any]) -> str:
    """SHA-256 over ``json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)``, the bytes
    every release has hashed: a file imported before an upgrade and again after it must still count as
    already imported (the audit chain's compact canonical_json would change every key)."""
    canonical = json.dumps(values, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def validate_row(
    number: int,
    raw: dict[str, Any],
    authorities: dict[str, int],
    default_authority: str | None,
    *,
    today: dt.date,
) -> tuple[ValidRow | None, list[RowError]]:
    """The row's pledge, or every reason it cannot be one. ``authorities`` maps the department codes the
    importer may register for to their ids; ``default_authority`` stands in for an empty code cell. The
    deadline must be plausible for a registration on ``today``, by the check single registration makes
    (``check_deadline``): a refused one is reported for its row, naming the deadline and the range."""
    errors: list[RowError] = []
    v: dict[str, Any] = {k: _text(raw.get(k)) for k in _TEXT_COLUMNS}

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
        v["deadline"] = parse_date(raw.get("deadline"))
    except (ValueError, TypeError):
        bad("deadline", f"“{_text(raw.get('deadline'))}”不是有效日期；请写成 YYYY-MM-DD，如 2026-04-30")
    else:
        try:
            check_deadline(deadline=v["deadline"], today=today)
        except ValidationFailed as exc:
            bad("deadline", exc.message)
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
    # The phone is contact data, not the pledge: a file imported again with the column added is the same
    # pledges, and every file keeps the key earlier releases gave its rows.
    return ValidRow(number, v, import_key({k: x for k, x in v.items() if k != "pledgor_phone"})), []


def _check_text(v: dict[str, Any], bad: Any) -> None:
    for column in ("pledgor_name", "matter", "obligation"):
        if not v[column]:
            bad(column, "必填项未填写")
    for column, limit in _LIMITS.items():
        if len(v[column]) > limit:
            bad(column, f"内容过长（{len(v[column])} 字），上限 {limit} 字")
    if v["pledgor_email"] and not _EMAIL.match(v["pledgor_email"]):
        bad("pledgor_email", f"“{v['pledgor_email']}”不是有效的电子邮箱地址")
    try:  # a mobile is stored as its 11 digits (texted), a landline as written (never texted)
        v["pledgor_phone"] = normalise_phone(v["pledgor_phone"])
    except ValueError as exc:
        bad("pledgor_phone", str(exc))

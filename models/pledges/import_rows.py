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
import zipfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import InvalidCreditCode, ValidationFailed
from models.pledge import PledgorKind, check_deadline, normalise_phone
from models.pledges.registration import normalise_pledgor
from models.settings import get_settings

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

# The template has ten columns. A header wider than this is refused, and no row is read past the header:
# a 20 MB CSV header of empty columns cost 6.7 s and ~500 MB before any row was looked at.
MAX_COLUMNS = 200
# A CSV line is refused past this many commas before the csv module splits it (a list of millions of
# empty cells); quoted text may hold commas, but no row of pledge text holds thousands.
MAX_LINE_COMMAS = 20 * MAX_COLUMNS
# An XLSX is zipped XML, and openpyxl (even read-only) parses its shared strings whole when it opens
# it: a 43 KB file unpacking to 17 MB held an upload 23 s. Its parts may unpack to this many times the
# upload limit in all, none compressed tighter than the ratio (spreadsheets' own XML is ~16:1, so a
# workbook at the upload limit may unpack to ~16 times it); parts under a megabyte cannot hurt whatever
# their ratio. The ratio is what stops a bomb; the total only bounds an honest file's parsing.
XLSX_UNPACKED_FACTOR = 20
XLSX_MAX_RATIO = 100
_RATIO_FLOOR = 1024 * 1024
_NOT_COMMA_OR_NEWLINE = bytes(b for b in range(256) if b not in b",\n")


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
        check_csv_width(content)
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


def check_xlsx_unpacked(content: bytes) -> None:
    """Refuse (``ValidationFailed``) an XLSX that would unpack to more than ``XLSX_UNPACKED_FACTOR``
    times ``import_max_bytes``, or with a part compressed tighter than ``XLSX_MAX_RATIO``, before openpyxl
    opens it. Only the zip's directory is read; the sizes it states bound what Python's zipfile will
    inflate. A file that is no zip at all is left to openpyxl, which names what is wrong with it."""
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return
    cap = get_settings().import_max_bytes * XLSX_UNPACKED_FACTOR
    total = sum(part.file_size for part in parts)
    if total > cap:
        raise ValidationFailed(
            f"Excel 文件解压后过大：共 {total} 字节，上限 {cap} 字节；请拆分为多个文件，"
            f"或在 Excel 中“另存为 CSV UTF-8”后重新导入 (XLSX unpacks to more than {cap} bytes)",
            unpacked_bytes=total,
            max_unpacked_bytes=cap,
        )
    for part in parts:
        if part.file_size > _RATIO_FLOOR and part.file_size > XLSX_MAX_RATIO * max(part.compress_size, 1):
            raise ValidationFailed(
                f"Excel 文件异常：其中“{part.filename}”解压后是压缩大小的 "
                f"{part.file_size // max(part.compress_size, 1)} 倍（上限 {XLSX_MAX_RATIO} 倍），"
                "不像是正常的表格；请在 Excel 中“另存为 CSV UTF-8”或重新保存为 .xlsx 后再导入 "
                f"(XLSX part compressed more than {XLSX_MAX_RATIO}:1)",
                part=part.filename,
                max_ratio=XLSX_MAX_RATIO,
            )


def _read_xlsx(content: bytes) -> Iterator[tuple[int, dict[str, Any]]]:
    from openpyxl import load_workbook

    check_xlsx_unpacked(content)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise ValidationFailed(f"无法读取 Excel 文件：{exc}；请确认是 .xlsx 格式 (unreadable XLSX)") from exc
    try:
        # One cell past the cap shows a header too wide; a stated dimension wider than that pads no row.
        yield from _rows(book.active.iter_rows(values_only=True, max_col=MAX_COLUMNS + 1))
    finally:
        book.close()


def _too_wide(line: int | None = None) -> ValidationFailed:
    """The refusal of a header over ``MAX_COLUMNS`` cells, or of CSV ``line`` over ``MAX_LINE_COMMAS``."""
    if line is None:
        what, limit, gloss = "表头", f"最多 {MAX_COLUMNS} 列", f"header over {MAX_COLUMNS} columns"
    else:
        what, limit, gloss = f"第 {line} 行", f"一行最多 {MAX_LINE_COMMAS} 个逗号", f"line {line} too wide"
    return ValidationFailed(
        f"导入文件{what}列数过多：{limit}（模板只有十列）；请删除多余的列（包括空列），"
        f"或把数据复制到导入模板后重新导入 ({gloss})",
        max_columns=MAX_COLUMNS,
    )


def check_csv_width(content: bytes) -> None:
    """Refuse (``ValidationFailed``) a CSV whose header has more than ``MAX_COLUMNS`` cells or one of
    whose lines has more than ``MAX_LINE_COMMAS`` commas, before the csv module splits any line into a
    list of its cells (millions of empty ones)."""
    first = content.find(b"\n")
    if content.count(b",", 0, len(content) if first < 0 else first) >= MAX_COLUMNS:
        raise _too_wide()
    # Only commas and line breaks kept (in UTF-8 no other character holds their bytes): a line too wide
    # is a run of commas, found at C speed (a Python loop over 20 million short lines takes 24 s).
    skeleton = content.translate(None, _NOT_COMMA_OR_NEWLINE)
    at = skeleton.find(b"," * (MAX_LINE_COMMAS + 1))
    if at >= 0:
        raise _too_wide(skeleton.count(b"\n", 0, at) + 1)


def _rows(reader: Iterable[Sequence[Any]]) -> Iterator[tuple[int, dict[str, Any]]]:
    iterator = iter(reader)
    header = next(iterator, None)
    if header is None:
        raise ValidationFailed(
            "导入文件是空的：没有表头，也没有数据行；请使用导入模板填写后重新导入 (the file is empty)"
        )
    # A spreadsheet pads the header with the empty cells of its used range: only the filled ones count.
    width = len(header)
    while width and header[width - 1] in (None, ""):
        width -= 1
    if width > MAX_COLUMNS:
        raise _too_wide()
    header = header[:width]
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
        # A row of blanks is skipped; a 0 from a spreadsheet cell counts as content. The row is bounded
        # already (its line's commas, or MAX_COLUMNS + 1 cells); the pledge takes the header's columns only.
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
            f"部门代码“{code}”不存在、已撤并或无权导入；请填写本部门（启用中的）代码"
            if code
            else "必填项未填写",
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

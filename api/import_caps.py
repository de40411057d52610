"""The row cap of a bulk-import upload, checked before the file is stored.

A file's bytes are capped as they arrive (api/body_limit.py); its rows are capped here, so a file within
the byte limit cannot queue an import of more pledges (and a report of more row errors) than
``import_max_rows`` allows: a 12 MB CSV produced a 46 MB error report.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from models.errors import ValidationFailed
from models.pledges.import_rows import check_csv_width, check_xlsx_unpacked
from models.settings import get_settings


def check_row_count(content: bytes, filename: str) -> None:
    """Refuse (422) a file with more data rows than ``import_max_rows``; an unreadable file is left to
    the import's own checks, which name what is wrong with it."""
    cap = get_settings().import_max_rows
    rows = _data_rows(content, filename, cap)
    if rows is not None and rows > cap:
        raise ValidationFailed(
            f"导入文件行数过多：超过 {cap} 行数据（不含表头）；请拆分为多个文件后分别导入 "
            f"(too many rows: at most {cap} per file)",
            max_rows=cap,
        )


def _data_rows(content: bytes, filename: str, cap: int) -> int | None:
    """The data rows (header excluded), counted no further than ``cap + 1``; None when unreadable."""
    if content[:4] == b"PK\x03\x04" or Path(filename).suffix.lower() == ".xlsx":
        return _xlsx_rows(content, cap)
    # Line breaks bound the rows from above (a quoted field may hold one): most files need no parsing.
    bound = max(0, content.count(b"\n") - 1)
    if bound <= cap:
        return bound
    try:
        # A line too wide is refused before the csv module splits it into millions of cells.
        check_csv_width(content)
        reader = csv.reader(io.StringIO(content.decode("utf-8-sig")))
        return sum(1 for _, _row in zip(range(cap + 2), reader, strict=False)) - 1
    except (UnicodeDecodeError, csv.Error):
        return None


def _xlsx_rows(content: bytes, cap: int) -> int | None:
    from openpyxl import load_workbook

    # Refused before openpyxl opens it: opening parses the shared strings whole, a zip bomb's included.
    check_xlsx_unpacked(content)
    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many kinds for a damaged file; the import names it
        return None
    try:
        sheet = book.active
        if sheet is None:
            return None
        # Read-only sheets stream rows; stop one past the cap rather than trust the stated dimension.
        # One column is enough to count rows: a stated dimension of thousands of columns pads none.
        rows = sheet.iter_rows(values_only=True, max_col=1)
        return sum(1 for _, _row in zip(range(cap + 2), rows, strict=False)) - 1
    finally:
        book.close()

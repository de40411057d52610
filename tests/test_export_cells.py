"""Every export cell is storable and inert: formulas behind blanks or in full-width forms are neutralised,
and control characters already stored no longer break the export (security probe round 2, items 2, 12)."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from models.exports import render
from models.privacy import neutralise


@pytest.mark.parametrize(
    "value",
    ["\n=1+1", ' =HYPERLINK("http://evil")', "\u3000+1", "＝SUM(A1)", "＋1", "－1", "＠A1", "\ncmd"],
)
def test_formulas_behind_blanks_or_in_full_width_forms_are_neutralised(value: str) -> None:
    assert neutralise(value) == "'" + value


@pytest.mark.parametrize("value", ["正常文本", "合同金额 = 38 万元", "", "a-b"])
def test_ordinary_text_is_left_alone(value: str) -> None:
    assert neutralise(value) == value


def test_control_characters_already_stored_do_not_break_the_xlsx_export() -> None:
    stored = "施工\u0001合同\u0000履约\u009f承诺\ud800"
    data = render(["事项"], [[stored], ["\u0007=1+1"]], "xlsx")
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    assert [row[0] for row in sheet.iter_rows(min_row=2, values_only=True)] == ["施工合同履约承诺", "'=1+1"]


def test_control_characters_are_dropped_from_the_csv_export_too() -> None:
    data = render(["事项"], [["多行\n说明\u0001"]], "csv").decode("utf-8-sig")
    assert "\u0001" not in data
    assert "多行\n说明" in data

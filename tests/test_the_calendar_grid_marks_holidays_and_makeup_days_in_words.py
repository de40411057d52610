"""The admin calendar's month grid tells a holiday from a 调休 workday by a visible word in the cell
(休 / 班), not by its colour alone nor a title a keyboard or touch user never sees."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Staff
from tests.web_support import sign_in


def test_holiday_and_makeup_cells_carry_a_visible_mark(client: TestClient, staff: Staff) -> None:
    sign_in(client, staff.admin)
    html = client.get("/staff/admin/calendar?year=2026").text
    grid = html.split('id="calendar"', 1)[1].split("</div>", 1)[0]
    holidays = re.findall(r'<td class="holiday"[^>]*>(.*?)</td>', grid, re.S)
    makeups = re.findall(r'<td class="makeup"[^>]*>(.*?)</td>', grid, re.S)
    assert len(holidays) >= 20
    assert len(makeups) >= 3
    assert all("休" in re.sub(r"<[^>]+>", "", cell) for cell in holidays), holidays
    assert all("班" in re.sub(r"<[^>]+>", "", cell) for cell in makeups), makeups
    plain = re.findall(r'<td class="(?:workday|weekend)"[^>]*>(.*?)</td>', grid, re.S)
    assert plain
    assert not any(mark in cell for cell in plain for mark in "休班")
    legend = re.sub(r"<[^>]+>", "", html.split('class="meta"', 1)[1].split("</p>", 1)[0])
    assert "休 法定节假日" in legend
    assert "班 调休上班" in legend

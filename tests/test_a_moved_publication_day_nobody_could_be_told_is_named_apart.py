"""A corrected holiday notice that moves told publication days: the page after the load names the pledges
whose pledgor was told the new day, and, apart, those whose notice reaches nobody (no e-mail, no mobile),
so staff tell them in person or by phone instead of believing them told."""

from __future__ import annotations

import datetime as dt
import json
import re

from fastapi.testclient import TestClient
from sqlmodel import Session

from models.calendar import parse_year_file, parse_year_notice
from models.calendar_admin import load_year_notice
from tests.conftest import Staff
from tests.test_december_pending_deadlines import ADMIN, EXAMPLE_2027
from tests.test_publication import new_pledge
from tests.test_told_deadlines_never_move_earlier import _confirm
from tests.web_support import sign_in

DECEMBER = dt.date(2026, 12, 16)


def test_a_correction_names_apart_the_pledgors_its_new_publication_day_cannot_reach(
    session: Session, staff: Staff
) -> None:
    mailed = new_pledge(session, dt.date(2026, 12, 31), registered_on=DECEMBER)
    unreachable = new_pledge(
        session, dt.date(2026, 12, 31), registered_on=DECEMBER, name="乙建设有限公司", email=None
    )
    session.commit()
    assert unreachable.pledgor_phone is None
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    session.commit()

    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    data["holidays"][0]["end"] = "2027-01-04"  # 元旦 one day longer: both publication days move
    _, _, done = load_year_notice(
        session=session, notice=parse_year_notice(json.dumps(data)), loaded_by="管理员", actor=ADMIN
    )
    session.commit()
    assert mailed.number in done.told_moved
    assert unreachable.number not in done.told_moved
    assert done.untold_moved == [unreachable.number]


def test_the_admin_page_after_the_load_says_whom_staff_must_tell(
    client: TestClient, session: Session, staff: Staff
) -> None:
    unreachable = new_pledge(
        session, dt.date(2026, 12, 31), registered_on=DECEMBER, name="乙建设有限公司", email=None
    )
    session.commit()
    load_year_notice(session=session, notice=parse_year_file(EXAMPLE_2027), loaded_by="管理员", actor=ADMIN)
    session.commit()
    data = json.loads(EXAMPLE_2027.read_text(encoding="utf-8"))
    data["holidays"][0]["end"] = "2027-01-04"
    sign_in(client, staff.admin)
    page = _confirm(client, data)
    assert re.search(rf'id="calendar-untold-moved">[^<]*请电话或当面告知：{unreachable.number}', page)
    assert 'id="calendar-told-moved"' not in page  # nobody else's told date moved

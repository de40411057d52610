"""A preview of a year's notice goes stale when another administrator loads that year before it is
confirmed: the admin page and `shouxin calendar load` then refuse to save (409 / exit 1) instead of
silently undoing a correction the confirming person never saw, and the page shows a fresh preview."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlmodel import Session, SQLModel, select
from typer.testing import CliRunner

from cli.calendar_cmd import app
from models.calendar import CalendarYear, load_calendar, parse_year_notice
from models.calendar_admin import NO_NOTICE, load_year_notice, year_version
from models.db import create_sqlite_file, get_engine
from models.errors import Conflict
from models.lifecycle import Role
from models.settings import get_settings
from models.workflow import Actor
from tests.conftest import Staff
from tests.web_support import csrf_of, sign_in
from web.core import CSRF_FIELD

PAGE = "/staff/admin/calendar"
EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "calendar-example-2027.json"
OTHER_ADMIN = Actor(name="管理员乙", role=Role.ADMIN)


def _corrected(*, longer_spring_festival: bool = True) -> str:
    """The 2027 example as a corrected notice: 春节 one day longer (2027-02-15 off), and a new title."""
    data = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    if longer_spring_festival:
        data["holidays"][1]["end"] = "2027-02-15"
    data["notice_title"] = "更正后的通知"
    return json.dumps(data, ensure_ascii=False)


def _other_admin_loads(session: Session, text: str) -> None:
    load_year_notice(session=session, notice=parse_year_notice(text), loaded_by="管理员乙", actor=OTHER_ADMIN)
    session.commit()


def _stored_title(session: Session) -> str:
    session.expire_all()
    return session.exec(select(CalendarYear.notice_title).where(CalendarYear.year == 2027)).one()


def _confirm(client: TestClient, page: Any) -> Any:
    """What the browser sends on 确认保存: the form's fields as the page drew them."""
    box = re.search(r'<textarea name="notice"[^>]*>(.*?)</textarea>', page.text, re.S)
    previewed = re.search(r'name="previewed" value="([^"]*)"', page.text)
    assert box, "the preview form carries the notice"
    assert previewed, "and what its diff was computed from"
    data = {"confirm": "1", "notice": html.unescape(box.group(1)), "previewed": previewed.group(1)}
    return client.post(PAGE, data={CSRF_FIELD: csrf_of(client, PAGE), **data}, follow_redirects=False)


def test_a_preview_made_stale_by_another_admins_load_is_refused_and_previewed_afresh(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    original = EXAMPLE.read_text(encoding="utf-8")
    token = csrf_of(client, PAGE)
    preview = client.post(PAGE, data={CSRF_FIELD: token, "confirm": "0", "notice": original})
    assert preview.status_code == 200
    _other_admin_loads(session, _corrected())

    stale = _confirm(client, preview)
    assert stale.status_code == 409
    assert "另一位管理员（管理员乙）已重新载入 2027 年的放假通知" in stale.text
    assert 'id="calendar-repreviewed"' in stale.text
    assert _stored_title(session) == "更正后的通知"  # the correction stands, deadlines with it
    # The typed notice is kept and diffed against the corrected year: confirming it now would give
    # 2027-02-15 back as a working day, and the page says so before anyone confirms it again.
    assert json.loads(original)["notice_title"] in html.unescape(stale.text)
    diff = re.search(r'<table class="table" id="calendar-diff">(.*?)</table>', stale.text, re.S)
    assert diff
    assert "2027-02-15" in diff.group(1)

    again = _confirm(client, stale)  # seen, and confirmed deliberately
    assert again.status_code == 303
    assert _stored_title(session) != "更正后的通知"


def test_a_preview_nobody_changed_meanwhile_is_saved(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    _other_admin_loads(session, _corrected())
    token = csrf_of(client, PAGE)
    # Reloading the very same notice changes nothing: a preview of it stays good.
    preview = client.post(PAGE, data={CSRF_FIELD: token, "confirm": "0", "notice": _corrected()})
    _other_admin_loads(session, _corrected())
    saved = _confirm(client, preview)
    assert saved.status_code == 303, saved.text


def test_the_shared_check_refuses_a_stale_preview_and_accepts_a_first_load(session: Session) -> None:
    first = parse_year_notice(EXAMPLE.read_text(encoding="utf-8"))
    assert year_version(load_calendar(session=session), 2027) == NO_NOTICE
    load_year_notice(
        session=session, notice=first, loaded_by="管理员甲", actor=OTHER_ADMIN, previewed=NO_NOTICE
    )
    session.commit()
    with pytest.raises(Conflict, match="管理员甲"):
        load_year_notice(
            session=session,
            notice=parse_year_notice(_corrected()),
            loaded_by="管理员乙",
            actor=OTHER_ADMIN,
            previewed=NO_NOTICE,  # a preview drawn before 管理员甲's load
        )
    session.rollback()
    assert _stored_title(session) == first.notice_title


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("SHOUXIN_DATABASE_URL", f"sqlite:///{tmp_path / 'calendar.db'}")
    get_settings.cache_clear()
    get_engine.cache_clear()
    create_sqlite_file(get_engine().url)
    SQLModel.metadata.create_all(get_engine())
    yield CliRunner()
    get_engine().dispose()
    get_settings.cache_clear()
    get_engine.cache_clear()


def test_the_cli_refuses_a_load_confirmed_after_another_admin_corrected_the_title(
    cli: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Session(get_engine()) as session:
        _other_admin_loads(session, EXAMPLE.read_text(encoding="utf-8"))
    mine = tmp_path / "2027.json"
    mine.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")

    def others_correct_while_i_read(*_args: Any, **_kwargs: Any) -> bool:
        # A title-only correction moves no day: comparing day changes alone let it be undone.
        with Session(get_engine()) as session:
            _other_admin_loads(session, _corrected(longer_spring_festival=False))
        return True

    monkeypatch.setattr(typer, "confirm", others_correct_while_i_read)
    result = cli.invoke(app, ["load", str(mine), "--by", "管理员甲"])
    assert result.exit_code == 1, result.output
    assert "本次未保存" in result.stderr
    with Session(get_engine()) as session:
        assert _stored_title(session) == "更正后的通知"


def test_a_confirmation_without_the_preview_it_came_from_is_shown_the_preview_and_saves_nothing(
    client: TestClient, staff: Staff, session: Session
) -> None:
    sign_in(client, staff.admin)
    token = csrf_of(client, PAGE)
    notice = EXAMPLE.read_text(encoding="utf-8")
    blind = client.post(
        PAGE, data={CSRF_FIELD: token, "confirm": "1", "notice": notice}, follow_redirects=False
    )
    assert blind.status_code == 409
    assert 'id="calendar-diff"' in blind.text
    assert session.exec(select(CalendarYear).where(CalendarYear.year == 2027)).first() is None
    saved = _confirm(client, blind)
    assert saved.status_code == 303, saved.text

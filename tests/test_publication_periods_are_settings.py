"""A breach record's publication periods by class are a locality's settings (RULEBOOK: every duration is a
default), with the national defaults; nonsense is refused at start-up naming the variables; a changed
setting applies to new decisions while records already decided keep their stored dates."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from cli.main import app
from models.breach import Severity
from models.breach_record import publication_end, repair_earliest
from models.db import get_engine
from models.register import expiry_candidates
from models.register.queries import count_shown
from models.settings import Settings, get_settings
from tests.conftest import Staff
from tests.test_government_breach_register import _record
from tests.test_government_credit import confirmed
from tests.test_register import PUBLISHED_ON, publish

DECIDED = dt.date(2026, 1, 31)


def _set(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()


def test_the_defaults_are_the_national_periods() -> None:
    settings = Settings()
    assert {s.value: settings.publication_months(s.value) for s in Severity} == {
        "minor": (0, 3),
        "general": (3, 12),
        "serious": (12, 36),
    }
    assert publication_end(Severity.SERIOUS, DECIDED) == dt.date(2029, 1, 31)
    assert repair_earliest(Severity.GENERAL, DECIDED) == dt.date(2026, 4, 30)  # clamped to the month's end


def test_a_changed_setting_is_not_answered_from_the_cache_of_the_old_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert publication_end(Severity.GENERAL, DECIDED) == dt.date(2027, 1, 31)
    assert repair_earliest(Severity.GENERAL, DECIDED) == dt.date(2026, 4, 30)
    _set(monkeypatch, SHOUXIN_PUBLICATION_MIN_MONTHS_GENERAL="1", SHOUXIN_PUBLICATION_MAX_MONTHS_GENERAL="6")
    assert publication_end(Severity.GENERAL, DECIDED) == dt.date(2026, 7, 31)
    assert repair_earliest(Severity.GENERAL, DECIDED) == dt.date(2026, 2, 28)


def test_a_published_pledge_takes_the_localitys_period_of_its_class(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set(monkeypatch, SHOUXIN_PUBLICATION_MIN_MONTHS_GENERAL="2", SHOUXIN_PUBLICATION_MAX_MONTHS_GENERAL="6")
    [record] = publish(engine, session, ("示范建设有限公司", None))
    assert record.decision_date == PUBLISHED_ON
    assert (record.repair_earliest, record.publication_end) == (dt.date(2026, 4, 28), dt.date(2026, 8, 28))


def test_a_confirmed_government_breach_takes_the_localitys_period_of_its_class(
    client: TestClient, staff: Staff, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    _set(monkeypatch, SHOUXIN_PUBLICATION_MIN_MONTHS_SERIOUS="6", SHOUXIN_PUBLICATION_MAX_MONTHS_SERIOUS="24")
    confirmed(client, staff, severity="serious")
    record = _record(session)
    assert record.repair_earliest == dt.date(2026, 9, 2)
    assert record.publication_end == dt.date(2028, 3, 2)


def test_a_record_already_decided_keeps_its_dates_when_the_setting_changes(
    engine: Engine, session: Session, staff: Staff, monkeypatch: pytest.MonkeyPatch
) -> None:
    [record] = publish(engine, session, ("示范建设有限公司", None))
    assert record.publication_end == dt.date(2027, 2, 28)
    _set(monkeypatch, SHOUXIN_PUBLICATION_MAX_MONTHS_GENERAL="6")
    later = dt.date(2026, 12, 1)  # past the new maximum, before the stored end
    session.expire_all()
    session.refresh(record)
    assert record.publication_end == dt.date(2027, 2, 28)
    assert count_shown(session=session, today=later) == 1
    assert expiry_candidates(session=session, today=later) == []


@pytest.mark.parametrize(
    ("env", "named"),
    [
        (
            {"SHOUXIN_PUBLICATION_MIN_MONTHS_GENERAL": "13"},
            ["SHOUXIN_PUBLICATION_MIN_MONTHS_GENERAL", "SHOUXIN_PUBLICATION_MAX_MONTHS_GENERAL"],
        ),
        (
            {"SHOUXIN_PUBLICATION_MAX_MONTHS_SERIOUS": "6"},
            ["SHOUXIN_PUBLICATION_MAX_MONTHS_SERIOUS", "SHOUXIN_PUBLICATION_MIN_MONTHS_SERIOUS"],
        ),
        (
            {"SHOUXIN_PUBLICATION_MAX_MONTHS_MINOR": "24"},
            ["SHOUXIN_PUBLICATION_MAX_MONTHS_GENERAL", "SHOUXIN_PUBLICATION_MAX_MONTHS_MINOR"],
        ),
        (
            {"SHOUXIN_PUBLICATION_MIN_MONTHS_SERIOUS": "6", "SHOUXIN_PUBLICATION_MAX_MONTHS_SERIOUS": "10"},
            [
                "SHOUXIN_PUBLICATION_MAX_MONTHS_SERIOUS",
                "SHOUXIN_PUBLICATION_MAX_MONTHS_GENERAL",
                "轻微 ≤ 一般 ≤ 严重",
            ],
        ),
        ({"SHOUXIN_PUBLICATION_MIN_MONTHS_MINOR": "-1"}, ["SHOUXIN_PUBLICATION_MIN_MONTHS_MINOR"]),
    ],
)
def test_nonsense_periods_are_refused_at_start_up_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: list[str]
) -> None:
    _set(monkeypatch, **env)
    with pytest.raises(ValidationError):
        Settings()
    get_engine.cache_clear()
    result = CliRunner().invoke(app, ["calendar", "status"])
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("错误: ")
    for name in named:
        assert name in line
    assert "Value error" not in line

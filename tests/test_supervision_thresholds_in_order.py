"""The supervision ladder keeps the rulebook's order 催办 → 督办 → 提级办理: settings that would escalate
before supervising are refused at start-up, naming both variables."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from cli.main import app
from models.db import get_engine
from models.settings import Settings, get_settings


def test_an_escalation_threshold_below_the_supervision_threshold_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOUXIN_SUPERVISE_AFTER_OVERDUE_DAYS", "4")
    monkeypatch.setenv("SHOUXIN_ESCALATE_AFTER_OVERDUE_DAYS", "2")
    with pytest.raises(ValidationError) as refused:
        Settings()
    message = str(refused.value)
    assert "SHOUXIN_ESCALATE_AFTER_OVERDUE_DAYS" in message
    assert "SHOUXIN_SUPERVISE_AFTER_OVERDUE_DAYS" in message


def test_the_command_line_refuses_to_start_with_the_ladder_out_of_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOUXIN_SUPERVISE_AFTER_OVERDUE_DAYS", "4")
    monkeypatch.setenv("SHOUXIN_ESCALATE_AFTER_OVERDUE_DAYS", "2")
    get_settings.cache_clear()
    get_engine.cache_clear()
    result = CliRunner().invoke(app, ["calendar", "status"])
    assert result.exit_code == 2, result.output
    [line] = result.output.strip().splitlines()
    assert line.startswith("错误: ")
    assert (
        "SHOUXIN_ESCALATE_AFTER_OVERDUE_DAYS（2）不能小于 SHOUXIN_SUPERVISE_AFTER_OVERDUE_DAYS（4）" in line
    )


@pytest.mark.parametrize(("supervise", "escalate"), [(3, 5), (4, 4), (1, 60)])
def test_thresholds_in_order_are_accepted(
    monkeypatch: pytest.MonkeyPatch, supervise: int, escalate: int
) -> None:
    monkeypatch.setenv("SHOUXIN_SUPERVISE_AFTER_OVERDUE_DAYS", str(supervise))
    monkeypatch.setenv("SHOUXIN_ESCALATE_AFTER_OVERDUE_DAYS", str(escalate))
    settings = Settings()
    assert (settings.supervise_after_overdue_days, settings.escalate_after_overdue_days) == (
        supervise,
        escalate,
    )

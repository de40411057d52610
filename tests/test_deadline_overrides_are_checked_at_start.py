"""SHOUXIN_DEADLINE_OVERRIDES is checked when the settings are read: a rule name the lifecycles do not have
(a typo was silently ignored) or a day count outside 1..120 working days (-2 put a stage's deadline before
its first day: the case arrived overdue and was escalated at once) stops start-up with one line, naming the
rules that may be set."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from cli.main import app
from models.db import get_engine
from models.lifecycle import LIFECYCLES
from models.settings import Settings, get_settings


@pytest.fixture
def refusal(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], str]:
    """The one message the settings refuse SHOUXIN_DEADLINE_OVERRIDES with, given its JSON."""

    def refused_with(overrides: str) -> str:
        monkeypatch.setenv("SHOUXIN_DEADLINE_OVERRIDES", overrides)
        with pytest.raises(ValidationError) as refused:
            Settings()
        errors = refused.value.errors(include_url=False)
        assert [error["loc"] for error in errors] == [("deadline_overrides",)]
        return str(errors[0]["msg"])

    return refused_with


def test_an_unknown_rule_name_is_refused_naming_the_rules_that_may_be_set(
    refusal: Callable[[str], str],
) -> None:
    message = refusal('{"replly": 7}')
    assert "'replly'" in message
    for rule in ("reply", "explanation", "sign_for", "objection"):
        assert rule in message


@pytest.mark.parametrize("days", [-2, 0, 121])
def test_a_day_count_outside_one_to_120_working_days_is_refused(
    refusal: Callable[[str], str], days: int
) -> None:
    message = refusal(f'{{"reply": {days}}}')
    assert f"reply 的期限 {days} 不在 1–120 个工作日之内" in message


@pytest.mark.parametrize(
    ("rule", "setting"),
    [
        ("rectification", "SHOUXIN_RECTIFICATION_WORKING_DAYS"),
        ("evidence_review", "SHOUXIN_PLEDGE_EVIDENCE_REVIEW_WORKING_DAYS"),
    ],
)
def test_a_rule_with_a_setting_of_its_own_is_refused_naming_that_setting(
    refusal: Callable[[str], str], rule: str, setting: str
) -> None:
    # rule_days reads the dedicated setting first, so the override would be ignored without a word.
    assert setting in refusal(f'{{"{rule}": 20}}')


def test_every_other_rule_of_the_lifecycles_may_be_set_within_range() -> None:
    keys = {
        state.deadline.key
        for lifecycle in LIFECYCLES.values()
        for state in lifecycle.states
        if state.deadline is not None
    } - {"rectification", "evidence_review"}
    overrides = dict(zip(sorted(keys), [1, 120] * len(keys), strict=False))
    assert Settings(deadline_overrides=overrides).deadline_overrides == overrides


def test_the_command_line_refuses_a_negative_override_at_start_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHOUXIN_DEADLINE_OVERRIDES", '{"reply": -2}')
    get_settings.cache_clear()
    get_engine.cache_clear()
    result = CliRunner().invoke(app, ["users", "list"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("错误: SHOUXIN_DEADLINE_OVERRIDES: reply 的期限 -2")

"""The lifecycle tables, exhaustively: every state × event × role of every case kind."""

from __future__ import annotations

import itertools

import pytest

from models.errors import NotPermitted, TransitionNotAllowed
from models.lifecycle import BREACH, COMPLAINT, PLEDGE, RESUME, Lifecycle, Role

LIFECYCLES = [COMPLAINT, PLEDGE, BREACH]


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=lambda lc: lc.kind)
def test_fire_and_available_agree_with_the_rows(lifecycle: Lifecycle) -> None:
    for state, event, role in itertools.product(lifecycle.state_names, lifecycle.event_names, Role):
        row = lifecycle.transition(event)
        if role not in row.roles:
            with pytest.raises(NotPermitted):
                lifecycle.fire(state, event, role)
        elif state not in row.sources:
            with pytest.raises(TransitionNotAllowed) as refused:
                lifecycle.fire(state, event, role)
            assert refused.value.details["state"] == state
            assert refused.value.details["allowed"] == [t.event for t in lifecycle.available(state, role)]
        else:
            assert lifecycle.fire(state, event, role) is row
    for state, role in itertools.product(lifecycle.state_names, Role):
        expected = [t for t in lifecycle.transitions if state in t.sources and role in t.roles]
        assert lifecycle.available(state, role) == expected


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=lambda lc: lc.kind)
def test_unknown_states_and_events_are_refused(lifecycle: Lifecycle) -> None:
    with pytest.raises(TransitionNotAllowed):
        lifecycle.fire(lifecycle.initial, "no_such_event", Role.SUPERVISOR)
    with pytest.raises(TransitionNotAllowed):
        lifecycle.fire("no_such_state", lifecycle.event_names[0], Role.SUPERVISOR)
    with pytest.raises(TransitionNotAllowed):
        lifecycle.available("no_such_state", Role.SUPERVISOR)


@pytest.mark.parametrize("lifecycle", LIFECYCLES, ids=lambda lc: lc.kind)
def test_terminal_states_offer_nothing_but_reopening(lifecycle: Lifecycle) -> None:
    for spec in lifecycle.states:
        if spec.terminal:
            assert not spec.waiting_on
            offered = {t.event for role in Role for t in lifecycle.available(spec.name, role)}
            # A published pledge's pledgor still needs its access code to object to or repair the record;
            # a fulfilled pledge can still be found false (a forged certificate, RULEBOOK pledges §5); a
            # complainant merged into another case (并单) may still withdraw their own part of it.
            assert offered <= {"reopen", "reissue_access_code", "confirm_false", "withdraw"}


def test_resume_returns_to_the_paused_state() -> None:
    resume = COMPLAINT.transition("resume")
    assert resume.target == RESUME
    assert COMPLAINT.target_of(resume, "awaiting_complainant", "signed") == "signed"
    with pytest.raises(TransitionNotAllowed):
        COMPLAINT.target_of(resume, "awaiting_complainant", None)


def test_a_replied_case_has_three_endings_each_terminal_and_reopenable() -> None:
    endings = {t.event: t.target for t in COMPLAINT.available("replied", Role.SUPERVISOR) if t.target}
    assert endings == {
        "close": "closed",
        "redo": "signed",
        "close_unsatisfied": "closed_unsatisfied",
        "close_unreachable": "closed_unreachable",
    }
    for state in ("closed", "closed_unsatisfied", "closed_unreachable"):
        assert COMPLAINT.state(state).terminal
        assert COMPLAINT.fire(state, "reopen", Role.SUPERVISOR).target == "reopened"


def test_a_confirmed_refusal_orders_a_written_explanation_with_its_own_deadline() -> None:
    assert COMPLAINT.fire("rectifying", "confirm_breach", Role.SUPERVISOR).target == "explanation_ordered"
    stage = COMPLAINT.state("explanation_ordered")
    assert stage.deadline is not None
    assert (stage.deadline.key, stage.deadline.days, stage.waiting_on) == ("explanation", 10, {Role.HANDLER})
    # The ladder's events reach it like any other stage.
    for event in ("warn_yellow", "warn_red", "remind", "supervise", "escalate"):
        assert "explanation_ordered" in COMPLAINT.transition(event).sources

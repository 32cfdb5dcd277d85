"""The flow table: every state reachable, every request step has a way back, docs in sync."""

from __future__ import annotations

import pytest
from transitions import MachineError

from dialogs.flow import REQUEST_PATH, TRANSITIONS, Flow, State, mermaid
from dialogs.paths import PROJECT_ROOT

flow = Flow()


def test_every_state_can_be_reached_and_left() -> None:
    dests = {str(t["dest"]) for t in TRANSITIONS}
    assert {s.value for s in State} - {State.IDENTIFY.value} <= dests
    for state in State:
        assert any(flow.can(state.value, t["trigger"]) for t in TRANSITIONS), (
            f"{state} is a dead end"
        )


@pytest.mark.parametrize("state", REQUEST_PATH)
def test_every_request_step_goes_back_and_to_the_menu(state: State) -> None:
    assert flow.fire(state.value, "back") != state.value
    assert flow.fire(state.value, "to_menu") == State.MENU.value
    assert flow.fire(state.value, "ask_human") == State.WITH_AGENT.value


def test_a_move_the_table_does_not_allow_changes_nothing() -> None:
    with pytest.raises(MachineError):
        flow.fire(State.MENU.value, "confirmed")
    with pytest.raises(MachineError):
        flow.fire(State.IDENTIFY.value, "to_menu")  # unknown customers cannot skip identifying


def test_the_diagram_in_docs_is_generated_from_the_table() -> None:
    committed = (PROJECT_ROOT / "docs" / "conversation.mmd").read_text(encoding="utf-8")
    assert committed == mermaid(), "run: python -m dialogs.flow > docs/conversation.mmd"


def test_every_state_has_a_step_that_asks_and_reads_it() -> None:
    from dialogs.customer.steps import STEPS

    assert set(STEPS) == set(State)

"""The transition tables: every row is reachable as written, and anything else raises."""

from __future__ import annotations

import networkx as nx
import pytest

from orchestrator import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    IllegalTransition,
    RunState,
    StepState,
    next_run_state,
    next_step_state,
    transition_graph,
)


@pytest.mark.parametrize(("key", "target"), list(STEP_TRANSITIONS.items()))
def test_every_step_row(key: tuple[StepState, str], target: StepState) -> None:
    assert next_step_state(*key) == target


@pytest.mark.parametrize(("key", "target"), list(RUN_TRANSITIONS.items()))
def test_every_run_row(key: tuple[RunState, str], target: RunState) -> None:
    assert next_run_state(*key) == target


def test_illegal_move_names_state_and_event() -> None:
    with pytest.raises(
        IllegalTransition, match=r"step cannot take event 'claim' in state 'completed'"
    ) as info:
        next_step_state(StepState.COMPLETED, "claim")
    assert info.value.state == "completed"
    assert info.value.event == "claim"


def test_terminal_run_states_have_no_way_out() -> None:
    for state in (RunState.ROLLED_BACK, RunState.COMPENSATION_FAILED, RunState.CANCELLED):
        assert not [key for key in RUN_TRANSITIONS if key[0] == state]
    # One exception: a completed sub-workflow run is rolled back when its parent rolls back (the
    # worker takes it only for a child run; a top-level completion is final).
    assert [key for key in RUN_TRANSITIONS if key[0] == RunState.COMPLETED] == [
        (RunState.COMPLETED, "compensate")
    ]


def test_every_step_state_is_reachable_from_pending() -> None:
    graph = transition_graph(STEP_TRANSITIONS)
    reachable = nx.descendants(graph, "pending") | {"pending"}
    assert reachable == {str(s) for s in StepState}

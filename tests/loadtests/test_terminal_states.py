"""The load users know every terminal state the orchestrator has: a run in a state they do not
know would be followed forever."""

from __future__ import annotations

from loadtests._config import outcome_of
from orchestrator import TERMINAL_RUN_STATES


def test_every_terminal_run_state_has_an_outcome() -> None:
    assert {str(s): outcome_of(str(s)) for s in TERMINAL_RUN_STATES} == {
        "completed": "completed",
        "rolled_back": "rolled_back",
        "cancelled": "rolled_back",
        "compensation_failed": "failed",
    }
    assert outcome_of("running") is None

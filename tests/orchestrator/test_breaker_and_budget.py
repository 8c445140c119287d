"""Circuit breakers shared through the store, and the per-run retry budget."""

from __future__ import annotations

import pytest

from orchestrator import (
    BREAKER_TRANSITIONS,
    BreakerState,
    CircuitBreaker,
    DefinitionError,
    IllegalTransition,
    ManualClock,
    RetryPolicy,
    RunState,
    Step,
    StepContext,
    Workflow,
    next_breaker_state,
)
from tests.orchestrator.conftest import OrchestratorFactory

NO_WAIT = RetryPolicy(max_attempts=50, initial_interval=0.0, max_interval=0.0, jitter=False)


class FlakyApi:
    """A shared downstream resource that is down until told otherwise."""

    def __init__(self) -> None:
        self.up = False
        self.calls = 0

    def call(self, ctx: StepContext) -> str:
        self.calls += 1
        if not self.up:
            raise ConnectionError("payment API down")
        return "ok"


@pytest.mark.parametrize(("key", "target"), list(BREAKER_TRANSITIONS.items()))
def test_every_breaker_row(key: tuple[BreakerState, str], target: BreakerState) -> None:
    assert next_breaker_state(*key) == target


def test_illegal_breaker_move() -> None:
    with pytest.raises(IllegalTransition, match="breaker cannot take event 'probe_succeeded'"):
        next_breaker_state(BreakerState.CLOSED, "probe_succeeded")


def test_breaker_opens_defers_probes_and_closes(make_orchestrator: OrchestratorFactory) -> None:
    clock = ManualClock(0.0)
    api = FlakyApi()
    breaker = CircuitBreaker("payment-api", failure_threshold=3, reset_timeout=60)
    wf = Workflow("pay", [Step("charge", api.call, retry=NO_WAIT, breaker=breaker)])
    orch = make_orchestrator(clock=clock)
    first, second = orch.submit(wf, {}), orch.submit(wf, {})
    worker = orch.worker()
    while worker.tick():
        pass
    # Three failures open the breaker; after that nobody calls the API until the reset timeout.
    assert api.calls == 3
    kinds = [e.kind for e in orch.events()]
    assert kinds.count("breaker_opened") == 1
    assert "step_deferred" in kinds
    clock.advance(30)
    assert not worker.tick() and api.calls == 3  # still open: deferred steps are not due
    api.up = True
    clock.advance(31)
    orch.run_until_quiet(max_seconds=600)
    assert orch.status(first).state == orch.status(second).state == RunState.COMPLETED
    kinds = [e.kind for e in orch.events()]
    assert kinds.count("breaker_half_open") == 1
    assert kinds.count("breaker_closed") == 1
    assert api.calls == 5  # one probe, then the other run
    # Deferrals do not spend attempts: the completing attempts are at most 4 (3 failures + 1).
    completed = [e for e in orch.events() if e.kind == "step_completed"]
    assert max(e.attempt for e in completed) <= 4


def test_failed_probe_reopens_the_breaker(make_orchestrator: OrchestratorFactory) -> None:
    clock = ManualClock(0.0)
    api = FlakyApi()
    breaker = CircuitBreaker("svc", failure_threshold=1, reset_timeout=10)
    wf = Workflow("probe", [Step("s", api.call, retry=NO_WAIT, breaker=breaker)])
    orch = make_orchestrator(clock=clock)
    orch.submit(wf, {})
    worker = orch.worker()
    assert worker.tick()  # fails, opens
    clock.advance(11)
    assert worker.tick()  # the probe fails: open again
    kinds = [e.kind for e in orch.events()]
    assert kinds.count("breaker_opened") == 2 and "breaker_half_open" in kinds
    assert api.calls == 2


def test_bad_breaker_settings_fail_at_definition() -> None:
    with pytest.raises(DefinitionError, match="failure_threshold=0 must be at least 1"):
        CircuitBreaker("x", failure_threshold=0)
    with pytest.raises(DefinitionError, match="reset_timeout=0 must be a positive"):
        CircuitBreaker("x", reset_timeout=0)


def test_retry_budget_stops_a_retry_storm(make_orchestrator: OrchestratorFactory) -> None:
    api = FlakyApi()
    wf = Workflow(
        "storm",
        [Step("a", api.call, retry=NO_WAIT), Step("b", api.call, retry=NO_WAIT)],
        retry_budget=5,
    )
    orch = make_orchestrator(clock=ManualClock(0.0))
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=600)
    assert orch.status(run_id).state == RunState.ROLLED_BACK
    # Each step may try 50 times, but the run may retry only 5 times in all: the failure after
    # the fifth retry is final, the run rolls back, and a step still waiting is skipped.
    assert api.calls == 6
    failures = [e for e in orch.events(run_id) if e.kind == "step_failed"]
    assert any("retry budget of 5 for the run is spent" in e.detail["error"] for e in failures)


def test_negative_retry_budget_rejected() -> None:
    with pytest.raises(DefinitionError, match="retry_budget=-1 must be >= 0"):
        Workflow("w", [Step("a", lambda ctx: None)], retry_budget=-1)

"""Rate limits: the token bucket as a pure function, and the limit shared through the store.

The retry storm across two real worker processes is in ``tests/integration/test_rate_limits.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator import (
    DefinitionError,
    ManualClock,
    RateLimit,
    RetryPolicy,
    RunState,
    Step,
    StepContext,
    Workflow,
)
from orchestrator._rate_limits import take_token
from tests.orchestrator.conftest import OrchestratorFactory

# -- the declaration -------------------------------------------------------------------------


def test_a_rate_limit_is_plain_data_and_loads_back() -> None:
    limit = RateLimit("payment-api", rate=2.5, burst=3)
    assert limit.to_dict() == {"name": "payment-api", "rate": 2.5, "burst": 3}
    assert RateLimit.from_dict(limit.to_dict()) == limit


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "", "rate": 1}, "name='' must be 1 to 128"),
        ({"name": "x" * 129, "rate": 1}, "must be 1 to 128"),
        ({"name": "api", "rate": 0}, "rate=0 must be a positive number"),
        ({"name": "api", "rate": float("inf")}, "rate=inf must be a positive"),
        ({"name": "api", "rate": True}, "rate=True must be a positive"),
        ({"name": "api", "rate": 1, "burst": 0}, "burst=0 must be a whole number >= 1"),
        ({"name": "api", "rate": 1, "burst": 1.5}, "burst=1.5 must be a whole number"),
    ],
)
def test_a_bad_rate_limit_is_refused_when_defined(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        RateLimit(**kwargs)


def test_a_step_refuses_a_rate_limit_that_is_not_one() -> None:
    with pytest.raises(DefinitionError, match="rate_limit=10 is not a RateLimit"):
        Step("a", lambda ctx: None, rate_limit=10)  # type: ignore[arg-type]


def test_the_rate_limit_is_part_of_the_definition_shape() -> None:
    plain = Workflow("w", [Step("a", lambda ctx: None)])
    limited = Workflow("w", [Step("a", lambda ctx: None, rate_limit=RateLimit("api", 1))])
    assert plain.fingerprint() != limited.fingerprint()


# -- the bucket ------------------------------------------------------------------------------


def test_a_full_bucket_grants_its_burst_then_one_token_per_interval() -> None:
    limit = RateLimit("api", rate=2, burst=3)
    tokens, at, granted = 3.0, 0.0, []
    for now in (0, 0, 0, 0, 0.25, 0.5, 0.5, 1.0):
        decision = take_token(limit, tokens, at, now)
        tokens, at = decision.tokens, now
        granted.append(decision.granted)
    assert granted == [True, True, True, False, False, True, False, True]
    refused = take_token(limit, 0.0, 10.0, 10.0)
    assert not refused.granted and refused.retry_at == pytest.approx(10.5)


def test_a_clock_that_goes_backwards_refills_nothing() -> None:
    limit = RateLimit("api", rate=100, burst=5)
    assert not take_token(limit, 0.2, 50.0, 10.0).granted


@given(
    st.lists(st.floats(min_value=0, max_value=30, allow_nan=False), min_size=1, max_size=200),
    st.floats(min_value=0.1, max_value=20),
    st.integers(min_value=1, max_value=5),
)
def test_no_window_ever_sees_more_than_burst_plus_rate_times_its_length(
    times: list[float], rate: float, burst: int
) -> None:
    limit = RateLimit("api", rate=rate, burst=burst)
    tokens, at, calls = float(burst), 0.0, []
    for now in sorted(times):
        decision = take_token(limit, tokens, at, now)
        tokens, at = decision.tokens, max(at, now)
        if decision.granted:
            calls.append(now)
    for i, start in enumerate(calls):
        for j in range(i, len(calls)):
            assert j - i + 1 <= burst + rate * (calls[j] - start) + 1e-6


# -- shared through the store, on both stores -----------------------------------------------


class Api:
    """A dependency that records when it was called, down for the first ``down`` calls."""

    def __init__(self, clock: ManualClock, down: int = 0) -> None:
        self.clock = clock
        self.down = down
        self.calls: list[float] = []

    def call(self, ctx: StepContext) -> str:
        self.calls.append(self.clock.now())
        if len(self.calls) <= self.down:
            raise ConnectionError("api down")
        return "ok"


def test_runs_share_the_bucket_and_a_deferral_spends_no_attempt(
    make_orchestrator: OrchestratorFactory,
) -> None:
    clock = ManualClock(1000.0)
    api = Api(clock, down=4)
    storm = RetryPolicy(max_attempts=5, initial_interval=0.0, max_interval=0.0, jitter=False)
    limit = RateLimit("api", rate=2, burst=2)
    wf = Workflow("calls", [Step("call", api.call, retry=storm, rate_limit=limit)])
    orch = make_orchestrator(clock=clock)
    run_ids = [orch.submit(wf, {}) for _ in range(4)]
    # Two workers (as two processes would), one clock: the bucket lives in the store.
    workers = [orch.worker(seed=1), orch.worker(seed=2)]
    for _ in range(500):
        busy = [w.tick() for w in workers]
        if orch.unfinished_runs() == 0:
            break
        if not any(busy):
            clock.advance(0.05)
    assert orch.unfinished_runs() == 0
    # Four failures, then success: every run completes, and the retry storm kept the rate.
    assert [orch.status(r).state for r in run_ids] == [RunState.COMPLETED] * 4
    assert len(api.calls) == 8
    for i, start in enumerate(api.calls):
        for j in range(i, len(api.calls)):
            assert j - i + 1 <= 2 + 2 * (api.calls[j] - start) + 1e-6, api.calls
    events = orch.events()
    deferred = [e for e in events if e.kind == "step_deferred"]
    assert deferred and all(e.detail["rate_limit"] == "api" for e in deferred)
    assert all(e.detail["until"] > e.at for e in deferred)
    assert orch.status(run_ids[0]).to_dict()["patterns"] == {
        "call": {"rate_limit": {"name": "api", "rate": 2, "burst": 2}}
    }
    # Waiting for a token spent no attempt: no run needed more than its failures plus one.
    failures = {r: sum(e.kind == "step_retry_scheduled" for e in orch.events(r)) for r in run_ids}
    for run_id in run_ids:
        (done,) = [e for e in orch.events(run_id) if e.kind == "step_completed"]
        assert done.attempt == failures[run_id] + 1


def test_a_compensation_takes_no_token(make_orchestrator: OrchestratorFactory) -> None:
    clock = ManualClock(0.0)
    undone: list[str] = []

    def fail(ctx: StepContext) -> None:
        raise ConnectionError("down")

    limit = RateLimit("api", rate=0.001, burst=1)  # one token, then none for 1,000 s
    wf = Workflow(
        "undo",
        [
            Step("a", lambda ctx: "a", lambda ctx: undone.append("a"), rate_limit=limit),
            Step("b", fail, after=("a",), retry=RetryPolicy(max_attempts=1)),
        ],
    )
    orch = make_orchestrator(clock=clock)
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=30)
    assert orch.status(run_id).state == RunState.ROLLED_BACK and undone == ["a"]

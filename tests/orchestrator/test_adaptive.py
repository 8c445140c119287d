"""Adaptive concurrency: the AIMD arithmetic as a pure function, the declaration checked when
defined, a process's slots and health, and a step without a slot deferred (attempt unspent) on
both stores.

Latency injected on a dependency in the simulation is in ``tests/scenarios/test_sim_patterns.py``;
real threads behind a real Toxiproxy in ``tests/integration/test_adaptive_real.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import (
    BusinessError,
    Concurrency,
    DefinitionError,
    RunState,
    Saturation,
    Step,
    StepContext,
    Workflow,
    next_limit,
    slot_wait,
)
from orchestrator._adaptive import MAX_SLOT_WAIT, MIN_SLOT_WAIT, counts_as_failure
from tests.orchestrator.conftest import OrchestratorFactory

API = Concurrency("api", max=8, min=1, latency_target=0.5, backoff=0.5)


# -- the pure function -----------------------------------------------------------------------


def test_a_slow_or_failed_call_halves_the_limit_down_to_its_floor() -> None:
    assert next_limit(API, 8.0, latency=0.6, failed=False) == 4.0
    assert next_limit(API, 8.0, latency=0.1, failed=True) == 4.0
    assert next_limit(API, 1.5, latency=2.0, failed=False) == 1.0  # never below min
    floor = Concurrency("api", max=8, min=3)
    assert next_limit(floor, 4.0, latency=9.0, failed=True) == 3.0


def test_a_good_call_adds_one_slot_per_limits_worth_of_good_calls_up_to_the_ceiling() -> None:
    assert next_limit(API, 1.0, latency=0.1, failed=False) == 2.0
    assert next_limit(API, 4.0, latency=0.5, failed=False) == 4.25  # at the target is good
    assert next_limit(API, 8.0, latency=0.1, failed=False) == 8.0  # never above max
    # From 1 to 4 takes 1 + 2 + 3 good calls, about: additive, not multiplicative, increase.
    limit, calls = 1.0, 0
    while limit < 4.0:
        limit, calls = next_limit(API, limit, 0.1, False), calls + 1
    assert 5 <= calls <= 7


def test_a_latency_spike_lowers_the_limit_and_the_recovery_raises_it_again() -> None:
    limit = float(API.start)
    assert limit == 8.0  # a process starts at max unless initial says otherwise
    for _ in range(3):
        limit = next_limit(API, limit, 1.0, False)
    assert limit == 1.0
    trail = []
    for _ in range(40):
        limit = next_limit(API, limit, 0.05, False)
        trail.append(limit)
    assert trail == sorted(trail) and trail[-1] == 8.0


def test_the_wait_for_a_slot_is_one_calls_time_shared_among_the_slots_within_bounds() -> None:
    assert slot_wait(API, 0.4, 4.0) == pytest.approx(0.1)
    assert slot_wait(API, None, 5.0) == pytest.approx(0.1)  # no sample yet: the target
    assert slot_wait(API, 100.0, 1.0) == MAX_SLOT_WAIT
    assert slot_wait(API, 0.0, 8.0) == MIN_SLOT_WAIT


class Refused(Exception):
    pass


def test_a_refusal_is_an_answer_not_congestion() -> None:
    assert counts_as_failure(ConnectionError("reset"), ()) is True
    assert counts_as_failure(BusinessError("card declined"), ()) is False
    assert counts_as_failure(Refused("no"), (Refused,)) is False
    assert counts_as_failure(TimeoutError(), (Refused,)) is True


# -- the declaration -------------------------------------------------------------------------


def test_a_concurrency_limit_is_plain_data_and_loads_back() -> None:
    data = API.to_dict()
    assert data == {
        "name": "api",
        "max": 8,
        "min": 1,
        "latency_target": 0.5,
        "backoff": 0.5,
        "initial": None,
    }
    assert Concurrency.from_dict(data) == API
    assert Concurrency("api", max=8, initial=2).start == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, r"name='' must be 1 to 128 characters"),
        ({"name": "a", "max": 0}, r"max=0 must be a whole number from 1 to 10000"),
        ({"name": "a", "min": 5, "max": 2}, r"min=5 must be <= max=2"),
        ({"name": "a", "initial": 40}, r"initial=40 must be a whole number from min=1 to max=16"),
        ({"name": "a", "latency_target": 0}, r"latency_target=0 must be a positive number"),
        ({"name": "a", "backoff": 1.0}, r"backoff=1.0 must be a number between 0 and 1"),
        ({"name": "a", "max": True}, r"max=True must be a whole number"),
    ],
)
def test_a_bad_concurrency_limit_is_refused_when_defined(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError, match=message):
        Concurrency(**kwargs)


def test_a_step_takes_only_a_concurrency_and_it_is_part_of_the_fingerprint() -> None:
    with pytest.raises(DefinitionError, match=r"concurrency=4 is not a Concurrency"):
        Step("call", lambda ctx: None, concurrency=4)  # type: ignore[arg-type]
    plain = Workflow("calls", [Step("call", lambda ctx: None)])
    limited = Workflow("calls", [Step("call", lambda ctx: None, concurrency=API)])
    assert plain.fingerprint() != limited.fingerprint()


# -- a process's slots -----------------------------------------------------------------------


def test_slots_are_counted_and_the_health_says_where_a_dependency_stands() -> None:
    saturation = Saturation()
    small = Concurrency("db", max=2, latency_target=0.5)
    assert saturation.try_acquire(small) and saturation.try_acquire(small)
    assert not saturation.try_acquire(small)  # both slots in flight
    saturation.release(small, latency=2.0)  # a slow call: the limit halves to 1
    assert saturation.limit("db") == 1
    assert not saturation.try_acquire(small)  # one still in flight fills the new limit
    saturation.release(small, latency=None)  # a crash: its slot back, no sample
    health = saturation.health()["limits"]["db"]
    assert health["in_flight"] == 0 and health["limit"] == 1 and health["samples"] == 1
    assert health["recent_latency_ms"] == 2000.0 and health["lowest_limit"] == 1
    assert health["decreases"] == 1 and health["saturated"] is False
    assert saturation.limit("unknown") is None


# -- in the store ----------------------------------------------------------------------------


def test_a_step_without_a_slot_is_deferred_without_spending_its_attempt(
    make_orchestrator: OrchestratorFactory,
) -> None:
    one = Concurrency("api", max=1)
    calls: list[int] = []

    def call(ctx: StepContext) -> str:
        calls.append(ctx.attempt)
        return "ok"

    orch = make_orchestrator()
    wf = Workflow("calls", [Step("call", call, concurrency=one)])
    run_id = orch.submit(wf, {})
    # Another call of this process holds the only slot.
    assert orch.saturation.try_acquire(one)
    worker = orch.worker()
    assert worker.tick() is True
    assert calls == []
    deferred = [e for e in orch.events(run_id) if e.kind == "step_deferred"]
    assert len(deferred) == 1 and deferred[0].detail["concurrency"] == "api"
    assert deferred[0].detail["until"] > deferred[0].at  # not at once: a slot takes time to free
    orch.saturation.release(one, latency=0.01)
    orch.clock.advance(MAX_SLOT_WAIT)  # type: ignore[attr-defined]
    orch.run_until_quiet(max_seconds=30)
    assert orch.status(run_id).state == RunState.COMPLETED
    assert calls == [1]  # the deferral spent no attempt
    health = orch.health()
    assert health["limits"]["api"]["in_flight"] == 0  # the call gave its slot back
    assert health["limits"]["api"]["samples"] == 2
    assert health["workers"]["count"] == 2 and health["workers"]["busy"] == 0

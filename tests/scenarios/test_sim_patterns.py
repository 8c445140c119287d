"""The orchestration patterns in the deterministic simulation, under its faults, judged by every
checker: a fallback route around a partitioned carrier, and a rate limit across two workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faults import Fault, FaultPlan, Trigger
from orchestrator import Fallback, RateLimit, RetryPolicy, Step, StepContext, StepState, Workflow
from scenarios import RecordingService, Scenario, Verdict, run_in_process

ROUTES = {"carrier_a": ["ship_a"], "carrier_b": ["ship_b"], "api": ["call"]}
ORDERS = [{"parcel": n} for n in range(3)]
FEW = RetryPolicy(max_attempts=3, initial_interval=0.5, max_interval=0.5, jitter=False)


def shipping() -> Workflow:
    stock, carrier_a, carrier_b = (RecordingService(n) for n in ("stock", "carrier_a", "carrier_b"))

    def ship(service: RecordingService) -> Any:
        return lambda ctx: service.apply(ctx, parcel=ctx.input["parcel"])

    def undo(service: RecordingService) -> Any:
        return lambda ctx: service.compensate(ctx)

    return Workflow(
        "shipping",
        [
            Step("reserve", ship(stock), undo(stock)),
            Step(
                "ship_a",
                ship(carrier_a),
                undo(carrier_a),
                after=("reserve",),
                retry=FEW,
                timeout=2.0,
                fallback=Fallback("ship_b", on=("indeterminate", "timeout")),
            ),
            Step("ship_b", ship(carrier_b), undo(carrier_b), after=("reserve",), retry=FEW),
        ],
    )


def test_a_partitioned_carrier_is_replaced_and_every_run_completes(tmp_path: Path) -> None:
    plan = FaultPlan((Fault("partition", Trigger(at=0.0), "carrier_a", 600.0),))
    outcome = run_in_process(
        Scenario("fallback", shipping(), ORDERS, plan, routes=ROUTES, seed=3), tmp_path
    )
    assert outcome.verdict == Verdict.VALID, outcome.judgement.anomalies
    assert [str(r.state) for r in outcome.runs] == ["completed"] * len(ORDERS)
    assert all(r.steps["ship_a"] == StepState.REPLACED_INDETERMINATE for r in outcome.runs)
    services = {e.service for e in outcome.history.effects if e.kind == "apply"}
    assert services == {"stock", "carrier_b"}  # nothing crossed the partition
    taken = [e for e in outcome.history.events if e.kind == "fallback_taken"]
    assert len(taken) == len(ORDERS)


def test_a_rate_limit_holds_across_two_simulated_workers_under_latency(tmp_path: Path) -> None:
    api = RecordingService("api")
    limit = RateLimit("api", rate=2.0, burst=1)

    def call(ctx: StepContext) -> Any:
        return api.apply(ctx)

    wf = Workflow("calls", [Step("call", call, rate_limit=limit)])
    plan = FaultPlan((Fault.toxic("api", "latency", at=0.0, duration=5.0, latency=300),))
    inputs = [{"n": n} for n in range(8)]
    outcome = run_in_process(
        Scenario("limited", wf, inputs, plan, routes=ROUTES, workers=2, seed=5), tmp_path
    )
    assert outcome.verdict == Verdict.VALID, outcome.judgement.anomalies
    claims = sorted(
        e.at for e in outcome.history.events if e.kind == "step_completed" and e.step == "call"
    )
    assert len(claims) == len(inputs)
    starts = sorted(
        e.at for e in outcome.history.events if e.kind == "step_claimed" and e.step == "call"
    )
    deferred = [e for e in outcome.history.events if e.kind == "step_deferred"]
    assert deferred and all(e.detail.get("rate_limit") == "api" for e in deferred)
    # Completions are spread at the limit's pace: eight calls need at least 3.5 virtual seconds.
    assert claims[-1] - starts[0] >= (len(inputs) - 1) / 2.0 - 1e-6

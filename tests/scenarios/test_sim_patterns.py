"""The orchestration patterns in the deterministic simulation, under its faults, judged by every
checker: a fallback route around a partitioned carrier, a rate limit across two workers, a
failing canary version that stops receiving runs, and an adaptive concurrency limit that
shrinks under injected latency and grows back after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faults import Fault, FaultPlan, Trigger
from orchestrator import (
    BusinessError,
    Canary,
    Concurrency,
    Fallback,
    HookEvent,
    HookPoint,
    RateLimit,
    RetryPolicy,
    RunState,
    Step,
    StepContext,
    StepState,
    Workflow,
)
from scenarios import RecordingService, Scenario, Verdict, run_in_process

ROUTES = {
    "carrier_a": ["ship_a"],
    "carrier_b": ["ship_b"],
    "api": ["call"],
    "payments": ["charge"],
}
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


class CardRefused(BusinessError):
    """The new version's bug: it refuses every card (definite: nothing was charged)."""


def order_versions() -> Workflow:
    """Version 1 of ``orders`` and version 2, a canary taking half the new runs, whose charge
    step is broken."""
    stock, payments = RecordingService("stock"), RecordingService("payments")

    def reserve(ctx: StepContext) -> Any:
        return stock.apply(ctx, order=ctx.input["order"])

    def charge(ctx: StepContext) -> Any:
        return payments.apply(ctx, order=ctx.input["order"])

    def charge_v2(ctx: StepContext) -> Any:
        raise CardRefused(f"v2 cannot charge order {ctx.input['order']}")

    def steps(charging: Any) -> list[Step]:
        return [
            Step("reserve", reserve, lambda ctx: stock.compensate(ctx), retry=FEW),
            Step(
                "charge",
                charging,
                lambda ctx: payments.compensate(ctx),
                after=("reserve",),
                retry=FEW,
                timeout=2.0,
                definite_errors=(CardRefused,),
            ),
        ]

    v1 = Workflow("orders", steps(charge))
    canary = Canary(stable=v1, share=0.5, max_failure_rate=0.2, window=10)
    return Workflow("orders", steps(charge_v2), version=2, canary=canary)


def test_a_failing_canary_stops_receiving_runs_while_the_stable_runs_complete(
    tmp_path: Path,
) -> None:
    plan = FaultPlan(
        (
            Fault.step_fault("transient", "reserve", attempts=1),
            Fault.toxic("payments", "latency", at=0.0, duration=20.0, latency=500),
            Fault.crash("after_action", "charge"),
        ),
        seed=7,
    )
    inputs = [{"order": n} for n in range(40)]
    scenario = Scenario(
        "canary", order_versions(), inputs, plan, routes=ROUTES, seed=7, submit_interval=1.0
    )
    outcome = run_in_process(scenario, tmp_path)
    assert outcome.verdict == Verdict.VALID, outcome.judgement.anomalies
    by_version = {v: [r for r in outcome.runs if r.version == v] for v in (1, 2)}
    # Running runs finish on their own version: the canary's fail, the stable ones complete.
    assert {r.state for r in by_version[2]} == {RunState.ROLLED_BACK}
    assert {r.state for r in by_version[1]} == {RunState.COMPLETED}
    (stopped,) = [e for e in outcome.history.events if e.kind == "canary_stopped"]
    assert stopped.detail["failures"] == 3  # the first count above 0.2 of a window of ten
    submitted = {e.run_id: e for e in outcome.history.events if e.kind == "run_submitted"}
    after = [e for e in submitted.values() if e.at > stopped.at]
    # The stream went on after the stop, and none of it reached the canary, though half of
    # it would have by the share.
    assert len(after) >= 10
    assert {e.detail["version"] for e in after} == {1}
    assert any(e.detail["canary"]["taken"] is False for e in after)
    assert 3 <= len(by_version[2]) < len(inputs) // 2
    # The stable runs' charges went through, once each, under the latency and the crash.
    charged = [e for e in outcome.history.effects if e.service == "payments" and e.kind == "apply"]
    assert sorted(e.run_id for e in charged) == sorted(r.run_id for r in by_version[1])


class InFlight:
    """Calls of one step in flight over (virtual) time, seen from the hooks around the action:
    the test's own count, not the limiter's."""

    def __init__(self, step: str) -> None:
        self.step, self.now, self.trace = step, 0, []  # type: list[tuple[float, int]]

    def __call__(self, event: HookEvent) -> None:
        if event.step != self.step:
            return
        if event.point == HookPoint.BEFORE_ACTION:
            self.now += 1
        elif event.point == HookPoint.AFTER_ACTION:
            self.now -= 1
        else:
            return
        self.trace.append((event.at, self.now))

    def most(self, start: float, end: float) -> int:
        """The most calls in flight at once between ``start`` and ``end``."""
        before = [n for at, n in self.trace if at < start]
        inside = [n for at, n in self.trace if start <= at <= end]
        return max([before[-1] if before else 0, *inside])


def test_latency_on_a_dependency_lowers_its_concurrency_and_the_recovery_raises_it(
    tmp_path: Path,
) -> None:
    api = RecordingService("api")
    limit = Concurrency("api", max=6, latency_target=0.5)

    def call(ctx: StepContext) -> Any:
        ctx.clock.sleep(0.2)  # the dependency's own service time, well under the target
        return api.apply(ctx)

    wf = Workflow("calls", [Step("call", call, concurrency=limit)])
    # From 2 s to 12 s every call takes 1.5 s more than it should.
    plan = FaultPlan((Fault.toxic("api", "latency", at=2.0, duration=10.0, latency=1500),))
    inputs = [{"n": n} for n in range(150)]
    scenario = Scenario(
        "adaptive", wf, inputs, plan, routes=ROUTES, workers=6, seed=11, submit_interval=0.1
    )
    seen = InFlight("call")
    outcome = run_in_process(scenario, tmp_path, listeners=[seen])
    assert outcome.verdict == Verdict.VALID, outcome.judgement.anomalies
    assert {str(r.state) for r in outcome.runs} == {"completed"}
    origin = min(at for at, _ in seen.trace)  # the first call: 0 s of the scenario's clock
    toxic_from, toxic_to = origin + 2.0, origin + 12.0
    # Before the latency, arrivals every 0.1 s of 0.2 s calls keep several in flight.
    assert seen.most(origin, toxic_from) >= 2
    # Three slow answers halve 6 to 1 within a few slow calls; from then on one at a time,
    # though the backlog grows (steps wait for a slot, their attempts unspent).
    assert seen.most(toxic_from + 5.0, toxic_to) == 1
    deferred = [
        e for e in outcome.history.events if e.kind == "step_deferred" and toxic_from <= e.at
    ]
    assert deferred and {e.detail.get("concurrency") for e in deferred} == {"api"}
    # After it, good answers add slots back and the backlog drains at a rising concurrency.
    assert seen.most(toxic_to, toxic_to + 10.0) >= 4
    attempts = [e.attempt for e in outcome.history.events if e.kind == "step_completed"]
    assert set(attempts) == {1}
    # The simulation stays deterministic with the limiter in it.
    again = InFlight("call")
    run_in_process(scenario, tmp_path / "again", listeners=[again])
    assert again.trace == seen.trace

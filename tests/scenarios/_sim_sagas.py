"""Workflows and helpers of the simulation tests, in a module of their own: a child interpreter
imports them under the same name as the tests do, so error types print the same."""

from __future__ import annotations

import json
import sys
from typing import Any

from faults import Fault, FaultPlan, Trigger
from orchestrator import RetryPolicy, Step, StepContext, Workflow
from scenarios import ANOMALY_KINDS, RecordingService, Scenario, ScenarioOutcome, run_in_process


def history_bytes(outcome: ScenarioOutcome) -> bytes:
    """Everything a run left behind that a seed must fix: the log, the effects, the faults."""
    return json.dumps(
        {
            "events": [
                [e.seq, e.run_id, e.step, e.kind, e.attempt, e.worker_id, e.at, e.detail]
                for e in outcome.history.events
            ],
            "effects": [
                [e.seq, e.service, e.kind, e.key, e.run_id, e.step, e.at, e.payload]
                for e in outcome.history.effects
            ],
            "faults": [[f.kind, f.target, f.at, f.detail, f.healed_at] for f in outcome.faults],
            "verdicts": [[r.checker, str(r.verdict), r.note] for r in outcome.judgement.results],
        },
        sort_keys=True,
    ).encode()


# -- a small saga whose services and timeouts each test sets ---------------------------------


class Declined(Exception):
    """The card is refused: retrying cannot help."""


def saga(
    payment: RecordingService,
    *,
    timeout: float | None = 1.0,
    retry: RetryPolicy | None = None,
    refund_retry: RetryPolicy | None = None,
    ship_retry: RetryPolicy | None = None,
) -> Workflow:
    stock = RecordingService("stock")
    shipping = RecordingService("shipping")

    def reserve(ctx: StepContext) -> Any:
        return stock.apply(ctx, sku=ctx.input.get("sku", "book"))

    def release(ctx: StepContext) -> None:
        stock.compensate(ctx)

    def charge(ctx: StepContext) -> Any:
        return payment.apply(ctx, amount=ctx.input.get("amount", 100))

    def refund(ctx: StepContext) -> None:
        payment.compensate(ctx)

    def ship(ctx: StepContext) -> Any:
        if ctx.input.get("declined"):
            raise Declined("the carrier refuses the parcel")
        return shipping.apply(ctx, to="home")

    return Workflow(
        "saga",
        [
            Step("reserve", reserve, release),
            Step(
                "charge",
                charge,
                refund,
                after=("reserve",),
                timeout=timeout,
                retry=retry or RetryPolicy(max_attempts=3, initial_interval=0.5),
                compensation_retry=refund_retry or RetryPolicy(max_attempts=3),
            ),
            Step(
                "ship",
                ship,
                after=("charge",),
                retry=ship_retry or RetryPolicy(max_attempts=2, non_retryable=(Declined,)),
            ),
        ],
    )


def run(workflow: Workflow, *faults: Fault, inputs: Any = None, **options: Any) -> ScenarioOutcome:
    return run_in_process(
        Scenario(
            "sim",
            workflow,
            inputs or [{"amount": 100}],
            FaultPlan(tuple(faults)),
            invariants=ANOMALY_KINDS,
            **options,
        )
    )


class NothingToRefund(Exception):
    """The strict refund's complaint."""


def strict_refunds(payment: RecordingService) -> Workflow:
    # A refund that fails when it finds nothing to refund: wrong with no fault in force.
    def charge(ctx: StepContext) -> Any:
        return payment.apply(ctx, amount=1)

    def refund(ctx: StepContext) -> None:
        if payment.compensate(ctx) is None:
            raise NothingToRefund("nothing to refund")

    def ship(ctx: StepContext) -> None:
        raise Declined("no")

    return Workflow(
        "strict",
        [
            Step("charge", charge, refund, compensation_retry=RetryPolicy(max_attempts=2)),
            Step("ship", ship, after=("charge",), retry=RetryPolicy(non_retryable=(Declined,))),
        ],
    )


def determinism_case(seed: int) -> ScenarioOutcome:
    """A saga with a late answer, store faults and a crash in the second run."""
    workflow = saga(RecordingService("payment"), timeout=1.0)
    faults = (
        Fault.toxic("payment", "latency", at=0.0, duration=3.0, latency=1500),
        Fault("store", Trigger(at=0.5), None, 2.0, {"action": "commit_fail", "probability": 0.5}),
        Fault("store", Trigger(at=1.0), None, 2.0, {"action": "ack_lost", "probability": 0.5}),
        Fault.crash("after_action", "reserve", run=1),
    )
    inputs = [{"amount": 100}, {"amount": 200, "declined": True}, {"amount": 300}]
    return run(workflow, *faults, inputs=inputs, seed=seed)


def replay_in_child() -> None:
    """The determinism case, printed as bytes (run in a child interpreter)."""
    sys.stdout.buffer.write(history_bytes(determinism_case(7)))

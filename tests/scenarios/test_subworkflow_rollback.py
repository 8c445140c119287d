"""A parent that rolls back after its sub-workflow completed must undo the child's effects too.

Found by the missing_compensation checker: the child's effects carry the child's run id, and
the orchestrator used to leave a completed child alone when its parent rolled back.
"""

from __future__ import annotations

from typing import Any

import pytest

from faults import Fault, FaultPlan
from orchestrator import RetryPolicy, RunState, Step, StepContext, Workflow
from scenarios import ANOMALY_KINDS, RecordingService, Scenario, run_in_process

stock = RecordingService("stock")
payment = RecordingService("payment")
shipping = RecordingService("shipping")


def _apply(service: RecordingService) -> Any:
    return lambda ctx: service.apply(ctx, v=1)


def _undo(service: RecordingService) -> Any:
    return lambda ctx: service.compensate(ctx)


def _ship(ctx: StepContext) -> Any:
    if ctx.input.get("address") == "undeliverable":
        raise ValueError(f"carrier refuses address={ctx.input['address']!r}")
    return shipping.apply(ctx, v=1)


ONCE = RetryPolicy(max_attempts=1)
payment_flow = Workflow(
    "payment",
    [
        Step("authorise", _apply(payment), _undo(payment)),
        Step("capture", _apply(payment), _undo(payment), after=("authorise",)),
    ],
)
order = Workflow(
    "order",
    [
        Step("reserve", _apply(stock), _undo(stock)),
        Step("pay", subworkflow=payment_flow, after=("reserve",)),
        Step("ship", _ship, _undo(shipping), after=("pay",), retry=ONCE),
    ],
)
ORDERS = [{"address": "1 Main St"}, {"address": "undeliverable"}]


@pytest.mark.parametrize(
    "plan",
    [
        FaultPlan(),
        FaultPlan((Fault.crash("after_action", "capture"),)),
        FaultPlan((Fault.crash("after_compensation", "capture"),)),
    ],
    ids=["no-fault", "crash-after-capture", "crash-after-undoing-capture"],
)
def test_a_completed_child_is_compensated_when_its_parent_rolls_back(plan: FaultPlan) -> None:
    outcome = run_in_process(Scenario("sub", order, ORDERS, plan, invariants=ANOMALY_KINDS))
    assert outcome.verdict == "valid", [a.detail for a in outcome.judgement.anomalies]
    states = {r.run_id: r.state for r in outcome.runs}
    assert states == {
        "sub-0-0000": RunState.COMPLETED,
        "sub-0-0000.pay": RunState.COMPLETED,
        "sub-0-0001": RunState.ROLLED_BACK,
        "sub-0-0001.pay": RunState.ROLLED_BACK,
    }
    undone = [(e.run_id, e.step) for e in outcome.history.effects if e.kind == "compensate"]
    # Reverse order: the child undoes capture then authorise, then the parent undoes reserve.
    assert undone == [
        ("sub-0-0001.pay", "capture"),
        ("sub-0-0001.pay", "authorise"),
        ("sub-0-0001", "reserve"),
    ]

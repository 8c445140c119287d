"""The demo: the example order saga on SQLite, a crash after the payment, a rollback, a verdict."""

from __future__ import annotations

from pathlib import Path

from faults import Fault, FaultPlan
from scenarios import Scenario, ScenarioOutcome, run_in_process


def demo_scenario(seed: int = 0) -> Scenario:
    """Four orders, one undeliverable; a worker dies after a charge, before recording it."""
    from examples.order_saga import DEMO_ORDERS, order_saga

    plan = FaultPlan((Fault.crash("after_action", step="charge_payment", nth=1),), seed=seed)
    return Scenario("order-saga-demo", order_saga, DEMO_ORDERS, plan, seed=seed)


def run_demo(workdir: Path, seed: int = 0) -> ScenarioOutcome:
    """Run the demo scenario in ``workdir`` and return its outcome."""
    return run_in_process(demo_scenario(seed), workdir)

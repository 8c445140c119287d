"""The search shrinks a failing plan to the smallest one that still fails."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings

from examples.order_saga import order_saga
from scenarios import Scenario, fault_plans, search

BASE = Scenario("search", order_saga, [{"sku": "a", "qty": 1, "amount": 1, "address": "x"}])


def test_a_bug_that_needs_two_faults_is_shrunk_to_exactly_those_two() -> None:
    def fake_run(scenario: Scenario) -> Any:
        # Broken only when the reserve crashes after its effect AND the charge fails transiently.
        faults = {
            (f.kind, f.trigger.point, f.trigger.step or f.target) for f in scenario.plan.faults
        }
        broken = {
            ("crash", "after_action", "reserve_stock"),
            ("step", None, "charge_payment"),
        } <= faults
        return SimpleNamespace(verdict="invalid" if broken else "valid", scenario=scenario)

    found = search(BASE, max_examples=500, max_runs=2000, run=fake_run)
    assert found.failing is not None
    plan = found.failing.scenario.plan
    assert len(plan.faults) == 2  # nothing more than what the bug needs
    assert {f.kind for f in plan.faults} == {"crash", "step"}
    assert plan.seed == 0  # shrunk down to the smallest seed too


def test_nothing_found_when_nothing_breaks() -> None:
    found = search(
        BASE,
        max_examples=10,
        max_runs=40,
        run=lambda scenario: SimpleNamespace(verdict="valid", scenario=scenario),
    )
    # Every single crash point (24), then some generated plans, within the budget.
    assert found.failing is None and 24 < found.tried <= 40


@settings(max_examples=30)
@given(fault_plans(order_saga))
def test_generated_plans_are_valid_and_name_real_steps(plan: Any) -> None:
    assert 1 <= len(plan.faults) <= 3
    for fault in plan.faults:
        step = fault.trigger.step or fault.target
        assert step in order_saga.steps

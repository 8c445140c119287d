"""The search shrinks a failing plan to the smallest one that still fails."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

from examples.order_saga import order_saga
from faults import Fault, FaultPlan
from scenarios import (
    Scenario,
    ScenarioDefinitionError,
    StepSpec,
    WorkflowSpec,
    fault_plans,
    generated_scenarios,
    search,
    search_scenarios,
    workflow_specs,
)

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

    found = search(
        BASE, max_examples=500, max_runs=2000, run=fake_run, draws=("crash", "transient")
    )
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


def test_plans_may_be_empty_and_draw_permanent_step_faults() -> None:
    plans = fault_plans(order_saga, min_faults=0, step_faults=("transient", "permanent"))
    assert find(plans, lambda plan: True) == FaultPlan((), 0)
    permanent = find(
        plans, lambda plan: any(f.params.get("fault") == "permanent" for f in plan.faults)
    )
    assert permanent == FaultPlan((Fault.step_fault("permanent", order_saga.order[0]),), 0)
    # Crashes shrink toward a point between an effect and its record.
    crash = find(plans, lambda plan: any(f.kind == "crash" for f in plan.faults))
    assert [f.trigger.point for f in crash.faults] == ["after_action"]


def test_plans_refuse_step_faults_that_are_not_behaviours() -> None:
    with pytest.raises(ScenarioDefinitionError, match=r"\['latency'\] cannot be drawn"):
        fault_plans(order_saga, step_faults=("transient", "latency"))
    with pytest.raises(ScenarioDefinitionError, match="need 0 <= min_faults <= max_faults"):
        fault_plans(order_saga, min_faults=3, max_faults=1)


def test_a_generated_case_shrinks_to_the_one_step_and_the_one_crash_the_bug_needs() -> None:
    def fake_run(scenario: Scenario) -> Any:
        # Broken when a worker dies after the effect of a step whose service ignores keys.
        spec = WorkflowSpec.from_dict((scenario.generated or {})["workflow"])
        careless = {s.name for s in spec.steps if not s.idempotent}
        broken = any(
            f.kind == "crash" and f.trigger.point == "after_action" and f.trigger.step in careless
            for f in scenario.plan.faults
        )
        anomalies = [SimpleNamespace(kind="duplicate_effect")] if broken else []
        return SimpleNamespace(
            verdict="invalid" if broken else "valid",
            scenario=scenario,
            judgement=SimpleNamespace(anomalies=anomalies),
        )

    cases = generated_scenarios(workflow_specs(max_steps=4, idempotent=st.booleans()))
    found = search_scenarios(cases, max_examples=200, max_runs=400, run=fake_run)
    assert found.failing is not None
    scenario = found.failing.scenario
    spec = WorkflowSpec.from_dict((scenario.generated or {})["workflow"])
    assert spec == WorkflowSpec((StepSpec("s0", idempotent=False),))
    assert scenario.plan == FaultPlan((Fault.crash("after_action", "s0"),), 0)
    assert scenario.inputs == [{}]

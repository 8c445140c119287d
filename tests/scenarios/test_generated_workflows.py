"""Generated workflows: every spec builds; correct ones survive small fault plans (a test of the
orchestrator itself); broken generators are caught, shrunk to a small case, printed, replayed."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from faults import Fault, FaultPlan
from orchestrator import Workflow
from scenarios import (
    ANOMALY_KINDS,
    Behaviour,
    GeneratedRefusal,
    Scenario,
    ScenarioDefinitionError,
    ScenarioOutcome,
    StepSpec,
    WorkflowSpec,
    build_workflow,
    crash_points,
    describe_scenario,
    generated_scenarios,
    run_in_process,
    scenario_from_token,
    scenarios_around,
    search_scenarios,
    step_behaviours,
    workflow_inputs,
    workflow_specs,
)
from tests.scenarios._catalogue import BROKEN as BROKEN_SAGAS
from tests.scenarios._catalogue import SHIPS

INVARIANTS = ANOMALY_KINDS


def assert_valid(outcome: ScenarioOutcome) -> None:
    printed = describe_scenario(outcome.scenario, outcome)
    assert outcome.verdict == "valid", printed


# -- the specs --------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(
    workflow_specs(max_steps=6, max_fan_in=3, compensated=st.booleans(), idempotent=st.booleans())
)
def test_every_generated_spec_builds_the_workflow_it_describes(spec: WorkflowSpec) -> None:
    workflow = build_workflow(spec)  # the orchestrator validates the DAG when it is defined
    assert 1 <= len(spec.steps) <= 6
    assert list(workflow.steps) == [s.name for s in spec.steps]
    assert workflow.graph.number_of_edges() == spec.edges
    for step in spec.steps:
        built = workflow.steps[step.name]
        assert set(workflow.dependencies(step.name)) == set(step.after)
        assert len(step.after) <= 3
        assert (built.compensation is not None) == (step.service is not None and step.compensated)
        assert (built.when is None) == (step.when is None)
    # Plain data: through JSON and back to the same spec.
    assert WorkflowSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec


@settings(max_examples=50, deadline=None)
@given(
    workflow_specs(max_steps=4).flatmap(
        lambda spec: st.tuples(st.just(spec), workflow_inputs(spec))
    )
)
def test_inputs_carry_exactly_the_flags_the_steps_read(case: Any) -> None:
    spec, payloads = case
    read = {s.when for s in spec.steps} | {s.behaviour.field for s in spec.steps}
    assert 1 <= len(payloads) <= 2
    for payload in payloads:
        assert set(payload) == read - {None}
        assert all(isinstance(v, bool) for v in payload.values())


def test_the_simplest_draws_are_one_plain_step_and_ok() -> None:
    from hypothesis import find

    assert find(workflow_specs(), lambda spec: True) == WorkflowSpec(
        (StepSpec("s0", (), "payment"),)
    )
    assert find(step_behaviours(), lambda b: True) == Behaviour()


def test_a_spec_that_is_not_a_dag_is_refused_by_the_orchestrator() -> None:
    spec = WorkflowSpec((StepSpec("s0", ("s1",)), StepSpec("s1", ("s0",))))
    with pytest.raises(Exception, match="has a cycle"):
        build_workflow(spec)
    with pytest.raises(ScenarioDefinitionError, match="needs field=<an input flag>"):
        Behaviour("fails_when")


def test_behaviours_do_what_they_say() -> None:
    spec = WorkflowSpec(
        (
            StepSpec("s0", behaviour=Behaviour("transient", failures=2)),
            StepSpec("s1", ("s0",), "stock", behaviour=Behaviour("fails_when", field="decline")),
            StepSpec("s2", ("s1",), None, when="express"),
        )
    )
    workflow = build_workflow(spec)
    assert workflow.steps["s1"].retry.non_retryable == (GeneratedRefusal,)
    payloads = [{"decline": False, "express": True}, {"decline": True, "express": False}]
    outcome = run_in_process(Scenario("behaviours", workflow, payloads, invariants=INVARIANTS))
    assert_valid(outcome)
    first, second = outcome.runs
    assert (first.state, second.state) == ("completed", "rolled_back")
    # Per run, in the order its services applied them (the two runs interleave by the seed).
    applied = sorted(
        ((e.run_id[-1], e.step, e.kind) for e in outcome.history.effects), key=lambda e: e[0]
    )
    # Run 0: s0 failed twice before its one effect, s1 applied, s2 calls nothing.
    # Run 1: s1 refused before calling stock; s0's payment was undone.
    assert applied == [
        ("0", "s0", "apply"),
        ("0", "s1", "apply"),
        ("1", "s0", "apply"),
        ("1", "s0", "compensate"),
    ]
    attempts = [e for e in outcome.history.events if e.kind == "step_retry_scheduled"]
    assert len(attempts) == 4  # two per run, for s0's two transient failures


# -- correct workflows: a property of the orchestrator ---------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    generated_scenarios(
        workflow_specs(max_steps=4), max_faults=2, invariants=INVARIANTS, lease_seconds=2
    )
)
def test_correct_generated_workflows_hold_under_small_fault_plans(case: Scenario) -> None:
    assert_valid(run_in_process(case))


@st.composite
def single_crash_cases(draw: st.DrawFn) -> Scenario:
    spec = draw(workflow_specs(max_steps=4))
    workflow = build_workflow(spec)
    payloads = draw(workflow_inputs(spec, max_runs=1))
    point, step = draw(st.sampled_from(crash_points(workflow)))
    return Scenario(
        "crash-point",
        workflow,
        payloads,
        FaultPlan((Fault.crash(point, step),)),
        invariants=INVARIANTS,
        lease_seconds=2,
        generated={"workflow": spec.to_dict(), "inputs": payloads},
    )


@settings(max_examples=20, deadline=None)
@given(single_crash_cases())
def test_correct_generated_workflows_hold_when_a_worker_dies_at_any_crash_point(
    case: Scenario,
) -> None:
    assert_valid(run_in_process(case))


# -- broken generators: caught, shrunk, printed, replayed -------------------------------------

BROKEN = {
    # A team that forgets a compensation here and there.
    "dropped compensation": (dict(compensated=st.booleans()), "missing_compensation"),
    # A service that applies every call, whatever its idempotency key.
    "service ignores keys": (dict(idempotent=st.booleans()), "duplicate_effect"),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_generator_is_caught_and_shrunk_to_a_small_replayable_case(name: str) -> None:
    options, anomaly = BROKEN[name]
    cases = generated_scenarios(
        workflow_specs(max_steps=3, **options),
        max_faults=2,
        invariants=(anomaly,),
        lease_seconds=2,
    )
    found = search_scenarios(cases, max_examples=100, max_runs=100)
    assert found.failing is not None, f"{name}: nothing found in {found.tried} runs"
    failing = found.failing
    assert anomaly in {a.kind for a in failing.judgement.anomalies}
    spec = WorkflowSpec.from_dict((failing.scenario.generated or {})["workflow"])
    # Shrunk: the fewest steps the bug needs (an effect left behind needs a second step to fail;
    # a duplicate needs one step and one crash), no edge, no route, one run.
    assert len(spec.steps) <= (2 if name == "dropped compensation" else 1), describe_scenario(
        failing.scenario, failing
    )
    assert spec.edges == 0 and all(s.when is None for s in spec.steps)
    assert len(failing.scenario.inputs) == 1 and len(failing.scenario.plan.faults) <= 1
    assert failing.scenario.seed == 0
    if name == "dropped compensation":
        assert any(s.service and not s.compensated for s in spec.steps)
        assert failing.scenario.plan.faults == ()  # the bug needs no fault at all
    else:
        assert [s.idempotent for s in spec.steps] == [False]
        assert [f.trigger.point for f in failing.scenario.plan.faults] == ["after_action"]

    # Printed as a scenario a person reads: steps with compensations, inputs, faults, anomalies.
    printed = describe_scenario(failing.scenario, failing)
    document = yaml.safe_load(printed)
    assert list(document["workflow"]["steps"]) == [s.name for s in spec.steps]
    assert document["anomalies"][0]["kind"] == anomaly
    assert document["inputs"] == list(failing.scenario.inputs)
    assert ("compensation: NONE" in printed) == (name == "dropped compensation")
    assert ("IGNORES KEYS" in printed) == (name == "service ignores keys")

    # Replayed from the token alone: the workflow is rebuilt from the spec inside it.
    token = failing.judgement.anomalies[0].replay_token
    assert token == document["replay_token"]
    again = run_in_process(scenario_from_token(token or ""))
    assert again.scenario.generated == failing.scenario.generated
    assert {a.kind for a in again.judgement.anomalies} == {
        a.kind for a in failing.judgement.anomalies
    }


def test_faults_and_behaviours_around_a_workflow_of_your_own() -> None:
    # The catalogue's saga that forgot its refund, with an order that ships: it rolls back only
    # when a generated behaviour (a step fault) fails a step after the charge.
    forgetful = BROKEN_SAGAS["missing compensation"][0]
    cases = scenarios_around(
        forgetful, st.just([SHIPS]), invariants=("missing_compensation",), lease_seconds=2
    )
    found = search_scenarios(cases, max_examples=30, max_runs=40)
    assert found.failing is not None
    (fault,) = found.failing.scenario.plan.faults
    assert (fault.kind, fault.params["fault"], fault.target) == ("step", "permanent", "ship")
    token = found.failing.scenario.replay_token()
    with pytest.raises(ScenarioDefinitionError, match=r"pass it as scenario_from_token\("):
        scenario_from_token(token)
    again = run_in_process(scenario_from_token(token, workflow=forgetful))
    assert again.scenario.inputs == [SHIPS]
    assert {a.kind for a in again.judgement.anomalies} == {"missing_compensation"}


def test_tokens_without_a_generated_case_are_unchanged_and_refused_by_name() -> None:
    workflow: Workflow = build_workflow(WorkflowSpec((StepSpec("s0"),)))
    written = Scenario("by-hand", workflow, [{}])
    from scenarios import decode_replay_token

    assert set(decode_replay_token(written.replay_token())) == {
        "v",
        "scenario",
        "source",
        "seed",
        "plan",
    }
    with pytest.raises(ScenarioDefinitionError, match="carries no generated case"):
        scenario_from_token(written.replay_token())

"""Declarative routing: the right branch runs, the other is recorded as skipped."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import (
    AllOf,
    AnyOf,
    DefinitionError,
    ManualClock,
    Not,
    RunState,
    Step,
    StepContext,
    StepState,
    When,
    Workflow,
    condition_from_dict,
    rebuild_from_events,
)
from tests.orchestrator.conftest import OrchestratorFactory


def returns(value: Any) -> Any:
    def action(ctx: StepContext) -> Any:
        return value

    return action


def fraud_workflow(score: int) -> Workflow:
    # check -> (manual_review | auto_approve) -> notify (a join: runs after whichever ran)
    return Workflow(
        "fraud",
        [
            Step("check", returns({"score": score})),
            Step(
                "manual_review",
                returns("reviewed"),
                after=("check",),
                when=When("results.check.score", "ge", 80),
            ),
            Step(
                "auto_approve",
                returns("approved"),
                after=("check",),
                when=When("results.check.score", "lt", 80),
            ),
            Step("escalate", returns("escalated"), after=("manual_review",)),
            Step("notify", returns("sent"), after=("manual_review", "auto_approve")),
        ],
    )


@pytest.mark.parametrize(
    ("score", "ran", "skipped"),
    [
        (95, {"check", "manual_review", "escalate", "notify"}, {"auto_approve"}),
        (10, {"check", "auto_approve", "notify"}, {"manual_review", "escalate"}),
    ],
)
def test_routing_takes_the_right_branch(
    make_orchestrator: OrchestratorFactory, score: int, ran: set[str], skipped: set[str]
) -> None:
    wf = fraud_workflow(score)
    orch = make_orchestrator(clock=ManualClock(0.0))
    run_id = orch.submit(wf, {})
    orch.run_until_quiet(max_seconds=60)
    status = orch.status(run_id)
    assert status.state == RunState.COMPLETED
    assert {s for s, st in status.steps.items() if st == StepState.COMPLETED} == ran
    assert {s for s, st in status.steps.items() if st == StepState.SKIPPED} == skipped
    logged = {e.step for e in orch.events(run_id) if e.kind == "step_branch_skipped"}
    assert logged == skipped
    assert rebuild_from_events(wf, orch.events(run_id)) == (status.state, dict(status.steps))


def test_a_root_condition_reads_the_input(make_orchestrator: OrchestratorFactory) -> None:
    wf = Workflow(
        "intl",
        [
            Step("customs", returns(1), when=When("input.country", "not_in", ["FR", "DE"])),
            Step("ship", returns(2)),
        ],
    )
    orch = make_orchestrator(clock=ManualClock(0.0))
    domestic = orch.submit(wf, {"country": "FR"})
    abroad = orch.submit(wf, {"country": "US"})
    orch.run_until_quiet(max_seconds=60)
    assert orch.status(domestic).steps["customs"] == StepState.SKIPPED
    assert orch.status(abroad).steps["customs"] == StepState.COMPLETED


def test_conditions_combine_and_round_trip() -> None:
    cond = AllOf(
        (
            When("input.amount", "gt", 100),
            AnyOf((When("input.vip", "eq", True), Not(When("input.country", "eq", "US")))),
            When("input.coupon", "exists", False),
        )
    )
    data = {"input": {"amount": 150, "vip": False, "country": "FR"}}
    assert cond.evaluate(data)
    assert not cond.evaluate({"input": {**data["input"], "country": "US"}})
    assert not cond.evaluate({"input": {**data["input"], "coupon": "X"}})
    assert condition_from_dict(cond.to_dict()) == cond
    # A missing value or a type clash is false, never an exception.
    assert not When("input.amount", "gt", 5).evaluate({"input": {"amount": "lots"}})
    assert not When("input.nothing", "eq", None).evaluate({"input": {}})


def test_bad_conditions_fail_at_definition() -> None:
    with pytest.raises(DefinitionError, match=r"op='like' is not known"):
        When("input.x", "like", "a%")
    with pytest.raises(DefinitionError, match=r"path='x' must start with 'input.'"):
        When("x", "eq", 1)
    with pytest.raises(
        DefinitionError, match=r"reads the results of \['later'\], which do not run"
    ):
        Workflow(
            "w",
            [
                Step("first", returns(1), when=When("results.later.v", "eq", 1)),
                Step("later", returns(2), after=("first",)),
            ],
        )
    with pytest.raises(DefinitionError, match="is not one of"):
        condition_from_dict({"when": "always"})


def test_status_shows_the_routing_rules_as_data(
    make_orchestrator: OrchestratorFactory,
) -> None:
    wf = fraud_workflow(95)
    orch = make_orchestrator()
    run_id = orch.submit(wf, {})
    routes = orch.status(run_id).to_dict()["routes"]
    assert routes == {
        "manual_review": {"path": "results.check.score", "op": "ge", "value": 80},
        "auto_approve": {"path": "results.check.score", "op": "lt", "value": 80},
    }

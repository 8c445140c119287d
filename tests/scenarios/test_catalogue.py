"""Prove it finds bugs: each broken workflow is caught with the right anomaly, shrunk to a small
fault plan, and reproduced from its replay token; the correct saga passes the same search."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from faults import FaultPlan
from orchestrator import Workflow
from scenarios import ANOMALY_KINDS, Scenario, decode_replay_token, run_in_process, search
from tests.scenarios._catalogue import BROKEN, ORDERS, correct

pytestmark = pytest.mark.slow

INVARIANTS = ANOMALY_KINDS


def scenario(workflow: Workflow, orders: list[dict[str, object]] = ORDERS) -> Scenario:
    return Scenario("catalogue", workflow, orders, invariants=INVARIANTS, lease_seconds=2)


@pytest.mark.parametrize("name", list(BROKEN))
def test_each_broken_workflow_is_caught_shrunk_and_replayed(name: str, tmp_path: Path) -> None:
    workflow, anomaly, orders = BROKEN[name]
    found = search(scenario(workflow, orders), max_examples=25, max_runs=80)
    assert found.failing is not None, f"{name}: no failing plan found in {found.tried} tries"
    kinds = {a.kind for a in found.failing.judgement.anomalies}
    assert anomaly in kinds
    # Shrunk: Hypothesis keeps the smallest plan that still fails (a bug that needs no fault at
    # all may come back with one crash, the first single-fault plan the search tries).
    assert len(found.failing.scenario.plan.faults) <= 2
    # Reproduced from the token alone (plan and seed), with the same anomalies.
    token = found.failing.judgement.anomalies[0].replay_token
    decoded = decode_replay_token(token or "")
    plan = FaultPlan.from_dict(decoded["plan"])
    again = run_in_process(
        replace(scenario(workflow, orders), plan=plan, seed=decoded["seed"]), tmp_path
    )
    assert {a.kind for a in again.judgement.anomalies} == kinds


def test_the_correct_saga_survives_the_same_search() -> None:
    found = search(scenario(correct), max_examples=25, max_runs=80)
    assert found.failing is None
    assert found.tried >= 20

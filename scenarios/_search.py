"""Search for a failing fault plan, and shrink it to the smallest one.

Every single crash point is tried first, in order. Then the strategy draws fault plans around a
workflow: crash points, step faults, and their seeds.
``hypothesis.find`` runs the scenario for each plan and returns the *smallest* plan that breaks an
invariant: fewer faults, earlier points, smaller numbers. That minimal plan is what a person reads
and what the replay token carries.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from faults import Fault, FaultPlan
from orchestrator import Workflow

from ._runner import Scenario, ScenarioOutcome, run_in_process
from ._scenario_file import crash_points


def fault_plans(workflow: Workflow, *, max_faults: int = 3) -> st.SearchStrategy[FaultPlan]:
    """Fault plans for ``workflow``: crashes at its hook points and transient step errors."""
    points = crash_points(workflow)
    crash = st.builds(
        lambda point, nth: Fault.crash(point[0], point[1], nth=nth),
        st.sampled_from(points),
        st.integers(1, 2),
    )
    transient = st.builds(
        lambda step, attempts: Fault.step_fault("transient", step, attempts=attempts),
        st.sampled_from(workflow.order),
        st.integers(1, 2),
    )
    return st.builds(
        lambda faults, seed: FaultPlan(tuple(faults), seed),
        st.lists(st.one_of(crash, transient), min_size=1, max_size=max_faults),
        st.integers(0, 3),
    )


@dataclass(frozen=True)
class SearchResult:
    """The smallest failing case found, or None; and how many cases were tried."""

    failing: ScenarioOutcome | None
    tried: int


def search(
    scenario: Scenario,
    *,
    max_examples: int = 100,
    max_runs: int = 200,
    run: Callable[[Scenario], ScenarioOutcome] = run_in_process,
) -> SearchResult:
    """Look for a fault plan that breaks ``scenario``'s invariants; shrink it if found.

    ``max_examples`` bounds the search, ``max_runs`` the scenario runs in all (shrinking
    included): once they are spent, plans not run yet count as passing, so the search ends with
    the smallest failing plan found so far. Counting runs, not seconds, keeps it deterministic.
    """
    tried = 0
    seen: dict[str, ScenarioOutcome] = {}

    def fails(plan: FaultPlan) -> bool:
        nonlocal tried
        key = json.dumps(plan.to_dict(), sort_keys=True)
        if key not in seen:
            if tried >= max_runs:
                return False
            tried += 1
            seen[key] = run(replace(scenario, plan=plan, seed=plan.seed))
        return seen[key].verdict == "invalid"

    # First every single crash point, in order: one fault that breaks an invariant is already
    # the smallest plan there is. Only then search combinations, which Hypothesis shrinks.
    for point, step in crash_points(scenario.workflow):
        single = FaultPlan((Fault.crash(point, step),), scenario.seed)
        if tried < max_runs and fails(single):
            return SearchResult(seen[json.dumps(single.to_dict(), sort_keys=True)], tried)

    config = settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        minimal = find(fault_plans(scenario.workflow), fails, settings=config)
    except NoSuchExample:
        return SearchResult(None, tried)
    return SearchResult(seen[json.dumps(minimal.to_dict(), sort_keys=True)], tried)

"""Search for a failing fault plan, and shrink it to the smallest one.

Every single crash point is tried first, in order. Then the strategy draws fault plans around a
workflow: crash points, step faults, and their seeds.
``hypothesis.find`` runs the scenario for each plan and returns the *smallest* plan that breaks an
invariant: fewer faults, earlier points, smaller numbers. That minimal plan is what a person reads
and what the replay token carries.

:func:`search_scenarios` does the same over whole generated scenarios (a workflow, its inputs and
a fault plan, see ``scenarios._strategies``): the failure shrinks to the smallest workflow and the
smallest plan together.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from faults import STEP_FAULT_KINDS, Fault, FaultPlan
from orchestrator import Workflow

from ._errors import ScenarioDefinitionError
from ._runner import Scenario, ScenarioOutcome, run_in_process
from ._scenario_file import crash_points

# The step faults that stand for a step's behaviour: it fails a few times, or for good.
BEHAVIOUR_STEP_FAULTS = ("transient", "permanent")
# The hook points after a service applied an effect and before the store recorded it.
SEPARATING_POINTS = ("after_action", "after_compensation")


def fault_plans(
    workflow: Workflow,
    *,
    max_faults: int = 3,
    min_faults: int = 1,
    step_faults: Sequence[str] = ("transient",),
) -> st.SearchStrategy[FaultPlan]:
    """Fault plans for ``workflow``: crashes at its hook points and step faults.

    ``step_faults`` names the step-fault kinds to draw (``transient``: the first 1-2 attempts
    fail; ``permanent``: every attempt fails), so a workflow of your own gets step behaviours
    generated around it without changing its code. ``min_faults=0`` lets a plan shrink to no
    fault at all, for bugs that need none.
    """
    unknown = [kind for kind in step_faults if kind not in BEHAVIOUR_STEP_FAULTS]
    if unknown:
        raise ScenarioDefinitionError(
            f"fault_plans(step_faults={list(step_faults)!r}): {unknown!r} cannot be drawn; use "
            f"some of {', '.join(BEHAVIOUR_STEP_FAULTS)} (all step faults: "
            f"{', '.join(STEP_FAULT_KINDS)})."
        )
    if not 0 <= min_faults <= max_faults:
        raise ScenarioDefinitionError(
            f"fault_plans(min_faults={min_faults!r}, max_faults={max_faults!r}): need "
            "0 <= min_faults <= max_faults."
        )
    points = crash_points(workflow)
    # A crash between an effect and its record is where at-least-once turns into twice: draw
    # those points half the time, and shrink toward them.
    separating = [p for p in points if p[0] in SEPARATING_POINTS]
    kinds: list[st.SearchStrategy[Fault]] = [
        st.builds(
            lambda point, nth: Fault.crash(point[0], point[1], nth=nth),
            st.sampled_from(separating) | st.sampled_from(points),
            st.integers(1, 2),
        )
    ]
    if "transient" in step_faults:
        kinds.append(
            st.builds(
                lambda step, attempts: Fault.step_fault("transient", step, attempts=attempts),
                st.sampled_from(workflow.order),
                st.integers(1, 2),
            )
        )
    if "permanent" in step_faults:
        kinds.append(
            st.builds(
                lambda step: Fault.step_fault("permanent", step),
                st.sampled_from(workflow.order),
            )
        )
    return st.builds(
        lambda faults, seed: FaultPlan(tuple(faults), seed),
        st.lists(st.one_of(kinds), min_size=min_faults, max_size=max_faults),
        st.integers(0, 3),
    )


@dataclass(frozen=True)
class SearchResult:
    """The smallest failing case found, or None; and how many cases were tried."""

    failing: ScenarioOutcome | None
    tried: int


def _find_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        # No explain phase: it traces every line each case runs, which makes runs several times
        # slower, and a scenario's anomalies already explain the failure.
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
    )


class _BoundedRuns:
    """Runs each distinct case once, at most ``max_runs`` times in all; past that, cases not
    run yet count as passing, so the search ends with the smallest failure found so far."""

    def __init__(self, run: Callable[[Scenario], ScenarioOutcome], max_runs: int) -> None:
        self.run = run
        self.max_runs = max_runs
        self.tried = 0
        self.seen: dict[str, ScenarioOutcome] = {}

    def fails(self, key: str, scenario: Scenario) -> bool:
        if key not in self.seen:
            if self.tried >= self.max_runs:
                return False
            self.tried += 1
            self.seen[key] = self.run(scenario)
        return bool(self.seen[key].verdict == "invalid")


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
    runs = _BoundedRuns(run, max_runs)

    def key(plan: FaultPlan) -> str:
        return json.dumps(plan.to_dict(), sort_keys=True)

    def fails(plan: FaultPlan) -> bool:
        return runs.fails(key(plan), replace(scenario, plan=plan, seed=plan.seed))

    # First every single crash point, in order: one fault that breaks an invariant is already
    # the smallest plan there is. Only then search combinations, which Hypothesis shrinks.
    for point, step in crash_points(scenario.workflow):
        single = FaultPlan((Fault.crash(point, step),), scenario.seed)
        if runs.tried < max_runs and fails(single):
            return SearchResult(runs.seen[key(single)], runs.tried)

    try:
        minimal = find(fault_plans(scenario.workflow), fails, settings=_find_settings(max_examples))
    except NoSuchExample:
        return SearchResult(None, runs.tried)
    return SearchResult(runs.seen[key(minimal)], runs.tried)


def search_scenarios(
    scenarios: st.SearchStrategy[Scenario],
    *,
    max_examples: int = 100,
    max_runs: int = 200,
    run: Callable[[Scenario], ScenarioOutcome] = run_in_process,
    simpler: Callable[[Scenario], Iterable[Scenario]] | None = None,
) -> SearchResult:
    """Look for a generated scenario that breaks its invariants; shrink it if found.

    ``scenarios`` draws whole cases (``scenarios._strategies.generated_scenarios`` or
    ``scenarios_around``), so the failure shrinks to the smallest workflow, inputs and fault plan
    together. Cases are told apart by their replay token, which carries all three; the budget
    works as in :func:`search`.

    Hypothesis shrinks the choices that drew the case; but the steps of a workflow interact
    through the schedule, so a change that looks small to it may hide the bug. A last pass
    therefore tries the ``simpler`` cases of the smallest failure (by default
    ``scenarios._strategies.simpler_scenarios``: one step, fault, input, edge, behaviour or route
    fewer) and keeps any that still fails with an anomaly of the same kind, until none does or
    the run budget is spent.
    """
    if simpler is None:
        from ._strategies import simpler_scenarios  # imports this module: resolved late

        simpler = simpler_scenarios
    runs = _BoundedRuns(run, max_runs)

    def fails(case: Scenario) -> bool:
        failed = runs.fails(case.replay_token(), case)
        if failed and runs.max_runs == max_runs:
            # Hypothesis may shrink with a third of what is left; the last pass, which cuts
            # whole steps at once, gets the rest.
            runs.max_runs = runs.tried + max(15, (max_runs - runs.tried) // 3)
        return failed

    try:
        minimal: Any = find(scenarios, fails, settings=_find_settings(max_examples))
    except NoSuchExample:
        return SearchResult(None, runs.tried)
    finally:
        runs.max_runs = max_runs
    best = runs.seen[minimal.replay_token()]
    improved = True
    while improved and runs.tried < max_runs:
        improved = False
        kinds = {a.kind for a in best.judgement.anomalies}
        for candidate in simpler(best.scenario):
            if runs.tried >= max_runs:
                break
            if fails(candidate):
                outcome = runs.seen[candidate.replay_token()]
                if kinds & {a.kind for a in outcome.judgement.anomalies}:
                    best, improved = outcome, True
                    break
    return SearchResult(best, runs.tried)

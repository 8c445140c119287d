"""Search for a failing fault plan, and shrink it to the smallest one.

:func:`search` first runs the scenario as it is, recording every durable boundary each run
crosses; then it tries one crash at each (run by run), then pairs, then plans that Hypothesis
draws from every fault the simulation can express. ``hypothesis.find`` returns the *smallest*
plan that breaks an invariant: fewer faults, earlier points, smaller numbers. That minimal plan
is what a person reads and what the replay token carries.

:func:`search_scenarios` does the same over whole generated scenarios (a workflow, its inputs and
a fault plan, see ``generation._strategies``): the failure shrinks to the smallest workflow and
the smallest plan together.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from faults import FaultPlan

from .._outcome import ScenarioOutcome
from .._scenario import Scenario
from ..simulation import run_in_process
from ._exploration import observed_crash_points
from ._fault_plans import DRAWS, fault_plans, single_faults
from ._strategies import simpler_scenarios


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
    draws: Sequence[str] = DRAWS,
) -> SearchResult:
    """Look for faults that break ``scenario``'s invariants; shrink the plan if found.

    The scenario's own faults stay in every case; the search adds to them. In order: the
    scenario as it is (it records every durable boundary each run crosses); one crash at each
    of those boundaries, run by run; one of each other kind of fault (``single_faults``: late
    answers and requests, lost answers, outages, store faults, pauses); two crashes, while two
    thirds of the budget last; then
    plans drawn by Hypothesis from every fault the simulation can express (crashes in any run,
    step errors, late answers and requests, lost answers, outages that heal and that last,
    store faults, paused workers), shrunk to the smallest that still fails.

    ``draws`` limits the kinds Hypothesis draws (see ``fault_plans``). ``max_examples`` bounds
    the drawn plans, ``max_runs`` the scenario runs in all (shrinking
    included): once they are spent, plans not run yet count as passing, so the search ends with
    the smallest failing plan found so far. Counting runs, not seconds, keeps it deterministic.
    """
    runs = _BoundedRuns(run, max_runs)
    base = scenario.plan.faults

    def key(plan: FaultPlan) -> str:
        return json.dumps(plan.to_dict(), sort_keys=True)

    def fails(plan: FaultPlan) -> bool:
        whole = FaultPlan(base + plan.faults, plan.seed)
        return runs.fails(key(whole), replace(scenario, plan=whole, seed=plan.seed))

    def found(plan: FaultPlan) -> SearchResult:
        return SearchResult(runs.seen[key(FaultPlan(base + plan.faults, plan.seed))], runs.tried)

    points, dry = observed_crash_points(scenario)
    runs.tried += 1
    runs.seen[key(scenario.plan)] = dry
    if dry.verdict == "invalid":
        return SearchResult(dry, runs.tried)
    # One fault that breaks an invariant is already the smallest plan there is: every crash,
    # then one of each kind of fault the world can throw; then pairs of crashes.
    proxies = sorted(str(p) for p in dry.history.meta.get("proxies_called", {}))
    for fault in [*points, *single_faults(scenario.workflow, proxies)]:
        single = FaultPlan((fault,), scenario.seed)
        if runs.tried < max_runs and fails(single):
            return found(single)
    pair_budget = max_runs - (max_runs - runs.tried) // 3
    for first, second in itertools.combinations(points, 2):
        if runs.tried >= pair_budget:
            break
        pair = FaultPlan((first, second), scenario.seed)
        if fails(pair):
            return found(pair)
    plans = fault_plans(scenario.workflow, draws=draws, runs=len(scenario.inputs), proxies=proxies)
    try:
        minimal = find(plans, fails, settings=_find_settings(max_examples))
    except NoSuchExample:
        return SearchResult(None, runs.tried)
    return found(minimal)


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

"""Where a worker can die: every durable boundary of every run, to explore one by one or in pairs.

:func:`crash_points` lists the (hook point, step) pairs a workflow has;
:func:`observed_crash_points` runs the scenario once without extra faults and lists the
boundaries each of its runs actually crossed, counted per run, so that exploring them crashes
the run that rolls back as well as the
one that completes (a compensation bug often shows in one run of several only).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

from faults import CRASH_POINTS, Fault, FaultPlan
from orchestrator import HookEvent, Workflow

from .._outcome import ScenarioOutcome
from .._scenario import Scenario
from ..simulation import run_in_process

_FORWARD_POINTS = CRASH_POINTS[:4]
_COMPENSATION_POINTS = CRASH_POINTS[4:]


def crash_points(workflow: Workflow) -> list[tuple[str, str]]:
    """Every (hook point, step) a worker can die at: forward, and compensation where defined."""
    points = [(point, step) for step in workflow.order for point in _FORWARD_POINTS]
    points += [
        (point, step)
        for step in workflow.order
        if workflow.steps[step].compensation
        for point in _COMPENSATION_POINTS
    ]
    return points


class _Boundaries:
    """A hook listener that records each durable boundary a run crosses, counted per run."""

    def __init__(self, run_ids: list[str]) -> None:
        self.index = {run_id: i for i, run_id in enumerate(run_ids)}
        self.counts: Counter[tuple[str, str, str]] = Counter()
        self.faults: list[Fault] = []

    def __call__(self, event: HookEvent) -> None:
        if str(event.point) not in CRASH_POINTS or event.step is None:
            return
        key = (event.run_id, str(event.point), event.step)
        self.counts[key] += 1
        # A top-level run by its index in the inputs (stable under a change of name or seed in a
        # replay token), a sub-workflow run by its id.
        run: int | str = self.index.get(event.run_id, event.run_id)
        self.faults.append(Fault.crash(str(event.point), event.step, self.counts[key], run=run))


def observed_crash_points(scenario: Scenario) -> tuple[list[Fault], ScenarioOutcome]:
    """Run ``scenario`` once as it is and return a crash fault for every boundary each run
    crossed (the n-th time it crossed it), in the order they were crossed, with that run."""
    boundaries = _Boundaries(scenario.run_ids())
    outcome = run_in_process(scenario, listeners=[boundaries])
    return boundaries.faults, outcome


def crash_cases(scenario: Scenario, *, pairs: bool = False) -> Iterator[Scenario]:
    """The scenario with one crash (or, with ``pairs``, two) at every boundary its runs cross."""
    points, _ = observed_crash_points(scenario)
    groups: Iterator[tuple[Fault, ...]] = (
        itertools.combinations(points, 2) if pairs else ((p,) for p in points)
    )
    for group in groups:
        yield scenario_with(scenario, group)


def scenario_with(scenario: Scenario, faults: tuple[Fault, ...]) -> Scenario:
    """``scenario`` with ``faults`` added to its plan."""
    return replace(scenario, plan=FaultPlan(scenario.plan.faults + faults, scenario.seed))

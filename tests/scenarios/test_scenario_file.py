"""Scenario files are validated when loaded, naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from faults import CRASH_POINTS
from scenarios import ScenarioDefinitionError, crash_points, load_scenario_file, run_case

GOOD = """
name: ok
workflow: examples.order_saga:order_saga
inputs: [{sku: a, qty: 1, amount: 5, address: here}]
invariants: [duplicate_effect]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def test_a_good_file_loads_with_defaults(tmp_path: Path) -> None:
    spec = load_scenario_file(write(tmp_path, GOOD))
    assert (spec.name, spec.mode, spec.seed, spec.explore) == ("ok", "sim", 0, None)
    assert [s.plan for s in spec.cases()] == [spec.plan]


def test_exploration_crashes_every_boundary_of_every_run(tmp_path: Path) -> None:
    spec = load_scenario_file(write(tmp_path, GOOD + "explore: crash_points\n"))
    cases = list(spec.cases())
    # One run that completes: four boundaries of each of its three steps, each crashed once.
    assert len(cases) == len(crash_points(spec.workflow)) // 2 == 12
    assert all(len(c.plan.faults) == 1 for c in cases)
    assert {c.plan.faults[0].trigger.run for c in cases} == {0}
    pairs = load_scenario_file(write(tmp_path, GOOD + "explore: crash_pairs\n"))
    assert len(list(pairs.cases())) == 12 * 11 // 2


def test_exploration_reaches_the_run_that_rolls_back(tmp_path: Path) -> None:
    two_runs = GOOD.replace(
        "inputs: [{sku: a, qty: 1, amount: 5, address: here}]",
        "inputs: [{sku: a, qty: 1, amount: 5, address: here}, "
        "{sku: b, qty: 1, amount: 5, address: undeliverable}]",
    )
    spec = load_scenario_file(write(tmp_path, two_runs + "explore: crash_points\n"))
    faults = [c.plan.faults[0] for c in spec.cases()]
    by_run = {run: [f for f in faults if f.trigger.run == run] for run in (0, 1)}
    # The first run's forward boundaries, and the second run's too (the old exploration crashed
    # only the first run to reach a point), with its compensations.
    forward = {(p, s) for p, s in crash_points(spec.workflow) if p in CRASH_POINTS[:4]}
    assert {(f.trigger.point, f.trigger.step) for f in by_run[0]} == forward
    second = {(f.trigger.point, f.trigger.step) for f in by_run[1]}
    assert ("after_action", "charge_payment") in second
    assert ("after_compensation", "charge_payment") in second
    assert ("after_compensation", "reserve_stock") in second
    # Every case strikes: its crash is recorded in the run it names.
    outcome = run_case(spec, next(c for c in spec.cases() if c.plan.faults[0] == by_run[1][0]))
    (crash,) = outcome.faults
    assert crash.target.startswith(spec.base_scenario().run_ids()[1])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + "colour: blue\n", r"colour='blue' is not a field here.*allowed: budget, explore"),
        (
            GOOD.replace("invariants: [duplicate_effect]", ""),
            r"invariants is missing; add it \(the checkers to run: any of duplicate_effect",
        ),
        (
            GOOD.replace("examples.order_saga:order_saga", "nowhere.mod:wf"),
            "Cannot import module 'nowhere.mod'",
        ),
        (
            GOOD + "faults: [{kind: crash, trigger: {point: lunch}}]\n",
            r"faults\[0\].trigger.point='lunch': must be 'run_submitted'",
        ),
        (
            GOOD + "faults: [{kind: crash, trigger: {point: after_action, step: chrage}}]\n",
            "step='chrage' is not a step of the workflow",
        ),
        (GOOD + "mode: fast\n", "mode='fast': must be 'sim' or 'real'"),
        (
            GOOD + "explore: everything\n",
            "explore='everything': must be 'crash_points', 'crash_pairs' or 'search'",
        ),
        (
            GOOD.replace("[duplicate_effect]", "[no_bugs]"),
            r"invariants=\['no_bugs'\]: must name known checkers; \['no_bugs'\] are not",
        ),
        ("- a list\n", "must hold a mapping"),
        ("name: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_files_are_refused_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ScenarioDefinitionError, match=message):
        load_scenario_file(write(tmp_path, text))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(
        ScenarioDefinitionError, match=r"Scenario file .*nope.yaml' cannot be read \(No such file"
    ):
        load_scenario_file(tmp_path / "nope.yaml")

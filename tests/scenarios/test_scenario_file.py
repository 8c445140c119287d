"""Scenario files are validated when loaded, naming the problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios import ScenarioDefinitionError, crash_points, load_scenario_file

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


def test_exploration_makes_one_case_per_crash_point(tmp_path: Path) -> None:
    spec = load_scenario_file(write(tmp_path, GOOD + "explore: crash_points\n"))
    cases = list(spec.cases())
    assert len(cases) == len(crash_points(spec.workflow)) == 24
    assert all(len(c.plan.faults) == 1 for c in cases)
    pairs = load_scenario_file(write(tmp_path, GOOD + "explore: crash_pairs\n"))
    assert len(list(pairs.cases())) == 24 * 23 // 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD + "colour: blue\n", r"unknown key\(s\) \['colour'\]"),
        (GOOD.replace("invariants: [duplicate_effect]", ""), "checks no invariant"),
        (
            GOOD.replace("examples.order_saga:order_saga", "nowhere.mod:wf"),
            "Cannot import module 'nowhere.mod'",
        ),
        (
            GOOD + "faults: [{kind: crash, trigger: {point: lunch}}]\n",
            r"faults\[0\]: trigger.point='lunch' is not a hook point",
        ),
        (
            GOOD + "faults: [{kind: crash, trigger: {point: after_action, step: chrage}}]\n",
            "step='chrage' is not a step of the workflow",
        ),
        (GOOD + "mode: fast\n", "mode='fast' must be one of sim, real"),
        (GOOD + "explore: everything\n", "explore='everything' must be one of"),
        (GOOD.replace("[duplicate_effect]", "[no_bugs]"), r"unknown invariant\(s\)"),
        ("- a list\n", "must hold a mapping"),
        ("name: [unclosed\n", "is not valid YAML"),
    ],
)
def test_bad_files_are_refused_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ScenarioDefinitionError, match=message):
        load_scenario_file(write(tmp_path, text))


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioDefinitionError, match="Cannot read scenario file"):
        load_scenario_file(tmp_path / "nope.yaml")

"""The published JSON Schemas of the scenario file and the fault plan match their models, and
say what the loaders say: every example file is valid under both, a bad one under neither."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from chaosflow._input_schemas import input_schemas, render_schema
from faults import FaultPlan, FaultPlanError
from scenarios import ScenarioError, load_scenario_file

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "docs" / "schemas"
EXAMPLES = sorted((ROOT / "examples" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("name", sorted(input_schemas()))
def test_the_committed_schema_is_the_models(name: str) -> None:
    committed = (SCHEMAS / name).read_text(encoding="utf-8")
    assert committed == render_schema(input_schemas()[name]), (
        f"docs/schemas/{name} is out of date with its model: run `make schema`."
    )


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_scenario_is_valid_under_the_schema_and_the_loader(path: Path) -> None:
    assert EXAMPLES, "no example scenario files found"
    data = yaml.safe_load(path.read_text())
    assert list(_validator("scenario-file.json").iter_errors(data)) == []
    load_scenario_file(path)


@pytest.mark.parametrize(
    "change",
    [
        {"workers": 0},
        {"workers": 10**12},
        {"seed": "abc"},
        {"budget": {"examples": -5}},
        {"budget": {"foo": 1}},
        {"lease_seconds": -5},
        {"routes": "nope"},
        {"invariants": []},
        {"faults": [{"kind": "step", "params": {"fault": "latency", "seconds": 10**9}}]},
        {"faults": [{"kind": "crash", "trigger": {"point": "after_action", "nth": True}}]},
        {"colour": "blue"},
    ],
    ids=str,
)
def test_a_bad_scenario_is_refused_by_the_schema_and_the_loader(
    tmp_path: Path, change: dict[str, object]
) -> None:
    data = {**yaml.safe_load(EXAMPLES[0].read_text()), **change}
    assert list(_validator("scenario-file.json").iter_errors(data)), change
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError):
        load_scenario_file(path)


def test_fault_plans_are_judged_alike_by_the_schema_and_the_loader() -> None:
    validator = _validator("fault-plan.json")
    good = {
        "seed": 3,
        "faults": [
            {"kind": "crash", "trigger": {"point": "after_action", "step": "charge"}},
            {"kind": "partition", "target": "db", "trigger": {"at": 1}, "duration": "forever"},
            {"kind": "network", "target": "db", "params": {"toxic": "latency"}},
        ],
    }
    assert list(validator.iter_errors(good)) == []
    FaultPlan.from_dict(good)
    for bad in (
        {"seed": -1},
        {"faults": [{"kind": "partition", "target": "db", "duration": 10**6}]},
        {"faults": [{"kind": "meteor"}]},
        {"faults": [{"kind": "store", "params": {"action": "latency", "seconds": 1e9}}]},
    ):
        assert list(validator.iter_errors(bad)), bad
        with pytest.raises(FaultPlanError):
            FaultPlan.from_dict(bad)
    # JSON has no NaN, so only YAML can write one (.nan): the loader refuses what the schema
    # cannot express.
    with pytest.raises(FaultPlanError, match=r"duration=nan: must be a finite number"):
        FaultPlan.from_yaml("faults: [{kind: partition, target: db, duration: .nan}]")

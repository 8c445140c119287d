"""The result document: JSON round trip, the published JSON Schema, bad documents named by path."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports import (
    ANOMALY_KINDS,
    SCHEMA,
    SCHEMA_FILES,
    VERDICTS,
    Anomaly,
    FaultRecord,
    InvariantResult,
    ReportError,
    ResilienceResult,
    ResultSchemaError,
    RunRecord,
    build_result,
    fault_shape,
    field_reference,
    json_schema_text,
    load_result,
    result_json_schema,
)

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "docs" / "schema"
VALIDATOR = jsonschema.Draft202012Validator(result_json_schema())


# --- round trip -------------------------------------------------------------------------------


def test_json_round_trip_gives_an_equal_result(sample: ResilienceResult) -> None:
    text = sample.dumps()
    again = ResilienceResult.loads(text)
    assert again == sample
    assert again.dumps() == text


def test_the_document_has_schema_verdict_and_score_at_the_top(sample: ResilienceResult) -> None:
    data = json.loads(sample.dumps())
    assert list(data)[:4] == ["schema", "scenario", "verdict", "score"]
    assert data["schema"] == SCHEMA == "chaosflow-report/1"
    assert data["verdict"] == "invalid"
    assert data["score"] == pytest.approx(25 / 3)
    assert data["invariants"][0]["anomalies"][0]["replay_command"] == "chaosflow replay tok-dup"
    assert data["runs"][2]["end_s"] is None
    assert data["faults"][0]["shape"] == "point"
    assert data["faults"][0]["end_s"] == data["faults"][0]["start_s"] == 1.5
    assert data["faults"][2]["shape"] == "open" and data["faults"][2]["end_s"] is None
    assert ResilienceResult.from_dict(data) == sample


def test_load_result_reads_a_file_or_its_folder(tmp_path: Path, sample: ResilienceResult) -> None:
    path = tmp_path / "result.json"
    path.write_text(sample.dumps(), encoding="utf-8")
    assert load_result(path) == sample
    assert load_result(str(tmp_path)) == sample


def test_a_missing_file_is_a_report_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match=r"Cannot read the result file '.*nope\.json'"):
        load_result(tmp_path / "nope.json")


def test_a_load_result_round_trips(load_sample: ResilienceResult) -> None:
    again = ResilienceResult.loads(load_sample.dumps())
    assert again == load_sample
    assert again.load is not None and again.load.series[0].e2e_p99_ms is None  # null, never 0


identifiers = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
names = identifiers.filter(str.strip)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@st.composite
def invariants(draw: st.DrawFn) -> InvariantResult:
    verdict = draw(st.sampled_from(VERDICTS))
    anomalies = st.builds(
        Anomaly,
        kind=st.sampled_from(ANOMALY_KINDS),
        run_id=identifiers,
        steps=st.lists(identifiers, max_size=2).map(tuple),
        event_seqs=st.lists(st.integers(0, 10**12), max_size=3).map(tuple),
        replay_token=st.none() | identifiers,
        detail=identifiers,
    )
    found = () if verdict == "valid" else tuple(draw(st.lists(anomalies, max_size=3)))
    return InvariantResult(
        name=draw(names), verdict=verdict, anomalies=found, note=draw(identifiers)
    )


@st.composite
def faults(draw: st.DrawFn) -> FaultRecord:
    kind = draw(names)
    start = draw(seconds)
    end = draw(st.none() | seconds.map(lambda s: start + s))
    shape = fault_shape(kind, start, end)
    return FaultRecord(
        kind=kind,
        target=draw(identifiers),
        shape=shape,
        start_s=start,
        end_s=start if shape == "point" else end,
        detail=draw(identifiers),
    )


@st.composite
def results(draw: st.DrawFn) -> ResilienceResult:
    runs = draw(
        st.lists(
            st.builds(
                RunRecord,
                run_id=identifiers,
                workflow=identifiers,
                state=st.sampled_from(["completed", "compensated", "rolled_back", "weird"]),
                outcome=st.sampled_from(["completed", "rolled_back", "failed", "unfinished"]),
                start_s=seconds,
                end_s=st.none() | seconds,
                attempts=st.integers(0, 50),
            ),
            max_size=4,
        )
    )
    return build_result(
        scenario=draw(names),
        mode=draw(st.sampled_from(["sim", "real"])),
        seed=draw(st.integers(-(2**63), 2**63)),
        started_at="2024-05-01T12:00:00Z",
        duration_s=draw(seconds),
        invariants=draw(st.lists(invariants(), max_size=4)),
        runs=runs,
        faults=draw(st.lists(faults(), max_size=3)),
        replay_command=draw(st.none() | identifiers),
    )


@given(results())
def test_any_result_survives_the_round_trip_and_meets_its_json_schema(
    result: ResilienceResult,
) -> None:
    text = result.dumps()
    assert ResilienceResult.loads(text) == result
    VALIDATOR.validate(json.loads(text))


# --- the published JSON Schema and field reference ------------------------------------------


def test_the_committed_json_schema_is_what_the_model_makes() -> None:
    committed = (SCHEMA_DIR / SCHEMA_FILES[0]).read_text(encoding="utf-8")
    assert committed == json_schema_text(), "run `make schema` and commit docs/schema/"


def test_the_committed_field_reference_is_what_the_model_makes() -> None:
    committed = (SCHEMA_DIR / SCHEMA_FILES[1]).read_text(encoding="utf-8")
    assert committed == field_reference(), "run `make schema` and commit docs/schema/"


def test_the_json_schema_is_a_valid_schema_that_requires_verdict_and_score() -> None:
    schema = result_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    assert {"schema", "scenario", "verdict", "score", "mode", "seed"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_every_field_of_every_record_is_described() -> None:
    schema = result_json_schema()
    undescribed = [
        f"{name}.{field}"
        for name, definition in [("ResilienceResult", schema), *schema["$defs"].items()]
        for field, node in definition.get("properties", {}).items()
        if not node.get("description")
    ]
    assert undescribed == []


def test_the_json_schema_refuses_what_the_model_refuses(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    data["invariants"][0]["verdict"] = "maybe"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, result_json_schema())
    data = sample.to_dict()
    data["surprise"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, result_json_schema())


# --- the schema id and versions -------------------------------------------------------------


def document(sample: ResilienceResult, **changes: Any) -> dict[str, Any]:
    data = sample.to_dict()
    data.update(changes)
    return data


def test_a_newer_schema_says_to_upgrade(sample: ResilienceResult) -> None:
    data = document(sample, schema="chaosflow-report/2", brand_new_field="x")
    match = r"^result\.schema='chaosflow-report/2' is newer than this chaosflow reads .*Upgrade"
    with pytest.raises(ResultSchemaError, match=match):
        ResilienceResult.from_dict(data)


@pytest.mark.parametrize("schema", ["junit/1", "chaosflow-report/one", 1, None])
def test_a_stranger_schema_is_named(sample: ResilienceResult, schema: object) -> None:
    with pytest.raises(ResultSchemaError, match=r"^result\.schema=.* is not a result schema"):
        ResilienceResult.from_dict(document(sample, schema=schema))


def test_a_document_naming_no_schema_is_refused(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    del data["schema"]
    with pytest.raises(ResultSchemaError, match=r'^result\.schema is missing\. .*"schema"'):
        ResilienceResult.from_dict(data)


# --- bad documents ------------------------------------------------------------------------------


def test_a_bad_verdict_is_named_by_path_and_value(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    data["invariants"][0]["verdict"] = "maybe"
    pattern = r"^result\.invariants\[0\]\.verdict='maybe' input should be 'valid', 'invalid' or"
    with pytest.raises(ResultSchemaError, match=pattern) as caught:
        ResilienceResult.from_dict(data)
    assert caught.value.path == "result.invariants[0].verdict"
    assert caught.value.value == "maybe"


def test_a_bad_nested_anomaly_kind_names_the_whole_path(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    # Any checker's name is a kind (the user's own checkers too), but it is a name.
    data["invariants"][1]["anomalies"][0]["kind"] = 42
    match = r"result\.invariants\[1\]\.anomalies\[0\]\.kind=42 input should be a valid string"
    with pytest.raises(ResultSchemaError, match=match):
        ResilienceResult.from_dict(data)


@pytest.mark.parametrize(
    ("where", "value", "match"),
    [
        (("runs", 1, "start_s"), "soon", r"result\.runs\[1\]\.start_s='soon' input should be a"),
        (("runs", 0, "attempts"), -1, r"result\.runs\[0\]\.attempts=-1 input should be greater"),
        (("runs", 0, "attempts"), True, r"result\.runs\[0\]\.attempts=True input should be a"),
        (("runs", 0, "outcome"), "meh", r"result\.runs\[0\]\.outcome='meh' input should be"),
        (("faults", 1, "end_s"), "never", r"result\.faults\[1\]\.end_s='never' input should be"),
        (("invariants", 0, "name"), " ", r"result\.invariants\[0\]\.name=' ' string should"),
        (("invariants", 2, "anomalies"), "x", r"invariants\[2\]\.anomalies='x' input should be"),
    ],
)
def test_bad_nested_fields_are_named(
    sample: ResilienceResult, where: tuple[str, int, str], value: object, match: str
) -> None:
    data = sample.to_dict()
    section, index, field = where
    data[section][index][field] = value
    with pytest.raises(ResultSchemaError, match=match):
        ResilienceResult.from_dict(data)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"mode": "prod"}, r"result\.mode='prod' input should be 'sim' or 'real'"),
        ({"seed": 1.5}, r"result\.seed=1\.5 input should be a valid integer"),
        ({"duration_s": -1}, r"result\.duration_s=-1 input should be greater than or equal"),
        ({"duration_s": math.nan}, r"result\.duration_s=nan input should be a finite number"),
        ({"started_at": "yesterday"}, r"result\.started_at='yesterday' is not an ISO 8601"),
        ({"started_at": "2024-05-01T12:00:00"}, r"is not in UTC.*datetime\.now\(UTC\)"),
        ({"scenario": 42}, r"result\.scenario=42 input should be a valid string"),
        ({"invariants": {}}, r"result\.invariants=\{\} input should be a valid tuple"),
        ({"replay_command": 3}, r"result\.replay_command=3 input should be a valid string"),
    ],
)
def test_bad_top_level_fields_are_named(
    sample: ResilienceResult, changes: dict[str, Any], match: str
) -> None:
    with pytest.raises(ResultSchemaError, match=match):
        ResilienceResult.from_dict(document(sample, **changes))


def test_a_verdict_that_contradicts_the_invariants_is_refused(sample: ResilienceResult) -> None:
    with pytest.raises(ResultSchemaError, match=r"^result verdict 'valid' contradicts the result"):
        ResilienceResult.from_dict(document(sample, verdict="valid", score=100.0))


def test_a_score_outside_its_verdicts_band_is_refused(sample: ResilienceResult) -> None:
    with pytest.raises(ResultSchemaError, match=r"score 87\.5 is impossible for verdict 'invalid'"):
        ResilienceResult.from_dict(document(sample, score=87.5))


def test_an_error_result_has_no_score(sample: ResilienceResult) -> None:
    data = document(sample, verdict="error", score=None)
    with pytest.raises(ResultSchemaError, match=r"verdict 'error' contradicts"):
        ResilienceResult.from_dict(data)  # no error field: the harness did not fail
    data["error"] = {"kind": "OSError", "message": "toxiproxy did not start", "during": "run"}
    assert ResilienceResult.from_dict(data).verdict == "error"
    data["score"] = 50.0
    with pytest.raises(ResultSchemaError, match=r"score 50\.0 is impossible for verdict 'error'"):
        ResilienceResult.from_dict(data)


def test_records_must_refer_to_listed_cases(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    data["runs"][0]["case"] = "case-404"
    with pytest.raises(ResultSchemaError, match=r"refer to cases \['case-404'\] that are not"):
        ResilienceResult.from_dict(data)


def test_a_point_fault_has_no_window(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    data["faults"][0]["end_s"] = 9.0
    with pytest.raises(ResultSchemaError, match=r"result\.faults\[0\] shape 'point' means struck"):
        ResilienceResult.from_dict(data)


def test_a_missing_field_is_named(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    del data["runs"][0]["state"]
    with pytest.raises(ResultSchemaError, match=r"^result\.runs\[0\]\.state is missing\."):
        ResilienceResult.from_dict(data)


def test_an_unknown_field_is_named_with_the_known_ones(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    data["faults"][0]["severity"] = "high"
    match = r"result\.faults\[0\]\.severity is not a field of this record\. The known fields are "
    with pytest.raises(ResultSchemaError, match=match + r"after_seq, case, detail, end_s"):
        ResilienceResult.from_dict(data)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", r"^result is not a JSON document"),
        ("[1, 2]", r"^result=\[1, 2\] is not an object \(a result document\)"),
        (b"\xff\xfe", r"^result is not a JSON document"),
    ],
)
def test_not_a_result_document(text: str | bytes, match: str) -> None:
    with pytest.raises(ResultSchemaError, match=match):
        ResilienceResult.loads(text)


def test_load_result_names_the_file(tmp_path: Path, sample: ResilienceResult) -> None:
    path = tmp_path / "result.json"
    path.write_text(json.dumps(document(sample, mode="staging")), encoding="utf-8")
    with pytest.raises(ResultSchemaError, match=r"result\.json: result\.mode='staging'") as caught:
        load_result(path)
    assert caught.value.source == str(path)


# --- validated when built in code ------------------------------------------------------------


def test_a_valid_invariant_cannot_carry_anomalies(make: Any) -> None:
    match = r"^InvariantResult verdict 'valid' contradicts the 1 anomalies it lists"
    with pytest.raises(ResultSchemaError, match=match):
        make.invariant("effects", "valid", make.anomaly())


def test_building_in_code_names_the_class_field(make: Any) -> None:
    with pytest.raises(ResultSchemaError, match=r"^Anomaly\.kind=' ' string should match pattern"):
        make.anomaly(" ")
    with pytest.raises(ResultSchemaError, match=r"^ResilienceResult\.mode='prod' input should"):
        make.result(mode="prod")
    with pytest.raises(ResultSchemaError, match=r"^ResilienceResult\.runs\[0\]='run-1' input"):
        make.result(runs=("run-1",))


def test_build_result_works_out_verdict_and_score(make: Any) -> None:
    result = make.result(invariants=(make.invariant("a", "valid"),), runs=(), faults=())
    assert (result.verdict, result.score) == ("valid", 100.0)


def test_the_error_is_a_report_error_and_truncates_huge_values(make: Any) -> None:
    with pytest.raises(ReportError) as caught:
        make.result(scenario=["x" * 500])
    assert len(str(caught.value)) < 300
    assert "..." in str(caught.value)

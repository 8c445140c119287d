"""The result schema: JSON round trip, verdict merging, and bad documents named by field path."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reports import (
    ANOMALY_KINDS,
    SCHEMA_VERSION,
    VERDICTS,
    Anomaly,
    CheckerResult,
    FaultRecord,
    ReportError,
    ResilienceResult,
    ResultSchemaError,
    RunRecord,
    load_result,
    merge_verdicts,
)

# --- round trip -------------------------------------------------------------------------------


def test_json_round_trip_gives_an_equal_result(sample: ResilienceResult) -> None:
    text = sample.dumps()
    again = ResilienceResult.loads(text)
    assert again == sample
    assert again.dumps() == text


def test_to_dict_is_plain_json_data(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    assert data["schema_version"] == SCHEMA_VERSION == 1
    assert data["checkers"][0]["anomalies"][0]["steps"] == ["charge"]
    assert data["runs"][2]["ended_at"] is None
    assert json.loads(json.dumps(data)) == data
    assert ResilienceResult.from_dict(data) == sample


def test_load_result_reads_a_file(tmp_path: Path, sample: ResilienceResult) -> None:
    path = tmp_path / "result.json"
    path.write_text(sample.dumps(), encoding="utf-8")
    assert load_result(path) == sample
    assert load_result(str(path)) == sample


def test_lists_become_tuples_and_ints_become_floats(make: Any) -> None:
    anomaly = Anomaly("stuck_workflow", "r", ["a", "b"], [1, 2], None, "d")  # type: ignore[arg-type]
    assert anomaly.steps == ("a", "b") and anomaly.event_seqs == (1, 2)
    record = RunRecord("r", "w", "completed", 1, 3, 0)
    assert isinstance(record.started_at, float) and isinstance(record.ended_at, float)
    result = make.result(checkers=[], runs=[record], faults=[])
    assert result.checkers == () and result.runs == (record,)
    hash(result)  # frozen and made of tuples, so usable as a key


identifiers = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
seconds = st.floats(min_value=0, max_value=1e6, allow_nan=False)


@st.composite
def checker_results(draw: st.DrawFn) -> CheckerResult:
    verdict = draw(st.sampled_from(VERDICTS))
    anomalies = st.builds(
        Anomaly,
        kind=st.sampled_from(ANOMALY_KINDS),
        run_id=identifiers,
        steps=st.tuples(identifiers),
        event_seqs=st.lists(st.integers(0, 10**12), max_size=3).map(tuple),
        replay_token=st.none() | identifiers,
        detail=identifiers,
    )
    found = () if verdict == "valid" else tuple(draw(st.lists(anomalies, max_size=3)))
    return CheckerResult(draw(identifiers.filter(str.strip)), verdict, found, draw(identifiers))


results = st.builds(
    ResilienceResult,
    scenario=identifiers.filter(str.strip),
    mode=st.sampled_from(["sim", "real"]),
    seed=st.integers(-(2**63), 2**63),
    started_at=st.just("2024-05-01T12:00:00Z"),
    duration_s=seconds,
    checkers=st.lists(checker_results(), max_size=4).map(tuple),
    runs=st.lists(
        st.builds(
            RunRecord,
            run_id=identifiers,
            workflow=identifiers,
            state=st.sampled_from(["completed", "rolled_back", "running", "weird"]),
            started_at=seconds,
            ended_at=st.none() | seconds,
            attempts=st.integers(0, 50),
        ),
        max_size=4,
    ).map(tuple),
    faults=st.lists(
        st.builds(
            FaultRecord,
            kind=identifiers.filter(str.strip),
            target=identifiers,
            at=seconds,
            healed_at=st.none() | seconds,
            detail=identifiers,
        ),
        max_size=3,
    ).map(tuple),
    replay_command=st.none() | identifiers,
)


@given(results)
def test_any_valid_result_survives_the_round_trip(result: ResilienceResult) -> None:
    assert ResilienceResult.loads(result.dumps()) == result


# --- verdicts -----------------------------------------------------------------------------------


def expected_merge(verdicts: tuple[str, ...]) -> str:
    if "invalid" in verdicts:
        return "invalid"
    if "unknown" in verdicts or not verdicts:
        return "unknown"
    return "valid"


ALL_COMBINATIONS = [c for n in range(4) for c in itertools.product(VERDICTS, repeat=n)]


@pytest.mark.parametrize("verdicts", ALL_COMBINATIONS, ids=lambda v: "+".join(v) or "none")
def test_result_verdict_merges_checkers_worst_first(make: Any, verdicts: tuple[str, ...]) -> None:
    checkers = tuple(
        make.checker(f"c{i}", v, *([make.anomaly()] if v == "invalid" else []))
        for i, v in enumerate(verdicts)
    )
    result = make.result(checkers=checkers)
    assert result.verdict == expected_merge(verdicts)
    assert merge_verdicts(verdicts) == expected_merge(verdicts)


@pytest.mark.parametrize(
    ("verdicts", "merged"),
    [
        ((), "unknown"),
        (("valid",), "valid"),
        (("valid", "unknown"), "unknown"),
        (("unknown", "valid"), "unknown"),
        (("valid", "invalid", "unknown"), "invalid"),
        (("unknown", "invalid"), "invalid"),
    ],
)
def test_merge_verdicts_by_hand(verdicts: tuple[str, ...], merged: str) -> None:
    assert merge_verdicts(verdicts) == merged


def test_merge_verdicts_refuses_a_stranger() -> None:
    with pytest.raises(ReportError, match=r"verdict='maybe', which is not one of 'valid'"):
        merge_verdicts(["valid", "maybe"])


def test_anomalies_lists_every_checkers_anomalies_in_order(sample: ResilienceResult) -> None:
    assert [a.replay_token for a in sample.anomalies] == ["tok-dup", "tok-miss"]


# --- bad documents ------------------------------------------------------------------------------


def document(sample: ResilienceResult, **changes: Any) -> dict[str, Any]:
    data = sample.to_dict()
    data.update(changes)
    return data


def test_a_bad_verdict_is_named_by_path_and_value(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    data["checkers"][0]["verdict"] = "maybe"
    pattern = (
        r"^result\.checkers\[0\]\.verdict='maybe' is not one of 'valid', 'invalid', 'unknown'\. "
        r"A checker's verdict says whether its invariant held\."
    )
    with pytest.raises(ResultSchemaError, match=pattern) as caught:
        ResilienceResult.from_dict(data)
    assert caught.value.path == "result.checkers[0].verdict"
    assert caught.value.value == "maybe"


def test_a_bad_nested_anomaly_kind_names_the_whole_path(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    data["checkers"][1]["anomalies"][0]["kind"] = "gremlins"
    match = (
        r"result\.checkers\[1\]\.anomalies\[0\]\.kind='gremlins' is not one of 'duplicate_effect'"
    )
    with pytest.raises(ResultSchemaError, match=match):
        ResilienceResult.from_dict(data)


@pytest.mark.parametrize(
    ("where", "value", "match"),
    [
        (
            ("runs", 1, "started_at"),
            "soon",
            r"result\.runs\[1\]\.started_at='soon' is not a number",
        ),
        (("runs", 0, "attempts"), -1, r"result\.runs\[0\]\.attempts=-1 is below 0"),
        (("runs", 0, "attempts"), True, r"result\.runs\[0\]\.attempts=True is not an int"),
        (("faults", 1, "healed_at"), "never", r"result\.faults\[1\]\.healed_at='never' is not"),
        (("checkers", 0, "name"), " ", r"result\.checkers\[0\]\.name=' ' is empty"),
        (("checkers", 2, "anomalies"), "none", r"checkers\[2\]\.anomalies='none' is not a list"),
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
        ({"mode": "prod"}, r"result\.mode='prod' is not one of 'sim', 'real'"),
        ({"seed": 1.5}, r"result\.seed=1\.5 is not an int"),
        ({"duration_s": -1}, r"result\.duration_s=-1 is below 0"),
        ({"duration_s": math.nan}, r"result\.duration_s=nan is not a finite number"),
        ({"started_at": "yesterday"}, r"result\.started_at='yesterday' is not an ISO 8601"),
        ({"started_at": "2024-05-01T12:00:00"}, r"is not in UTC.*datetime\.now\(UTC\)"),
        ({"started_at": "2024-05-01T12:00:00+02:00"}, r"started_at='2024.*' is not in UTC"),
        ({"scenario": 42}, r"result\.scenario=42 is not a str"),
        ({"checkers": {}}, r"result\.checkers=\{\} is not a list"),
        ({"replay_command": 3}, r"result\.replay_command=3 is not a str or null"),
    ],
)
def test_bad_top_level_fields_are_named(
    sample: ResilienceResult, changes: dict[str, Any], match: str
) -> None:
    with pytest.raises(ResultSchemaError, match=match):
        ResilienceResult.from_dict(document(sample, **changes))


def test_a_newer_schema_version_says_to_upgrade(sample: ResilienceResult) -> None:
    data = document(sample, schema_version=2, brand_new_field="x")
    match = r"result\.schema_version=2 is newer than .*SCHEMA_VERSION=1.*Upgrade chaosflow"
    with pytest.raises(ResultSchemaError, match=match):
        ResilienceResult.from_dict(data)


@pytest.mark.parametrize("version", [0, -3, "1", None])
def test_a_nonsense_schema_version_is_refused(sample: ResilienceResult, version: object) -> None:
    with pytest.raises(ResultSchemaError, match=r"result\.schema_version="):
        ResilienceResult.from_dict(document(sample, schema_version=version))


def test_a_missing_field_is_named(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    del data["schema_version"]
    with pytest.raises(ResultSchemaError, match=r"^result\.schema_version is missing\."):
        ResilienceResult.from_dict(data)
    data = sample.to_dict()
    del data["runs"][0]["state"]
    with pytest.raises(ResultSchemaError, match=r"result\.runs\[0\]\.state is missing\. Every run"):
        ResilienceResult.from_dict(data)


def test_an_unknown_field_is_named_with_the_known_ones(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    data["faults"][0]["severity"] = "high"
    match = r"result\.faults\[0\]\.severity is not a field of fault\. The known fields are at, "
    with pytest.raises(ResultSchemaError, match=match):
        ResilienceResult.from_dict(data)


def test_optional_fields_may_be_left_out(sample: ResilienceResult) -> None:
    data = sample.to_dict()
    del data["replay_command"]
    del data["checkers"][0]["note"]
    result = ResilienceResult.from_dict(data)
    assert result.replay_command is None
    assert result.checkers[0].note == ""


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{not json", r"^result is not a JSON document"),
        ("[1, 2]", r"^result=\[1, 2\] is not an object \(result\)"),
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


def test_a_valid_checker_cannot_carry_anomalies(make: Any) -> None:
    match = r"CheckerResult\.verdict='valid' contradicts the 1 anomalies .* says 'invalid'"
    with pytest.raises(ResultSchemaError, match=match):
        make.checker("effects", "valid", make.anomaly())


def test_building_in_code_names_the_class_field(make: Any) -> None:
    with pytest.raises(ResultSchemaError, match=r"^Anomaly\.kind='gremlins' is not one of"):
        make.anomaly("gremlins")
    with pytest.raises(ResultSchemaError, match=r"^ResilienceResult\.mode='prod' is not one of"):
        make.result(mode="prod")
    with pytest.raises(ResultSchemaError, match=r"^ResilienceResult\.schema_version=9 is newer"):
        make.result(schema_version=9)
    with pytest.raises(ResultSchemaError, match=r"^ResilienceResult\.runs\[0\]='run-1' is not a"):
        make.result(runs=("run-1",))


def test_the_error_is_a_report_error_and_truncates_huge_values(make: Any) -> None:
    with pytest.raises(ReportError) as caught:
        make.result(scenario=["x" * 500])
    assert len(str(caught.value)) < 300
    assert "..." in str(caught.value)

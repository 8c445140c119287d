"""Reading a ``schema_version: 1`` document from older chaosflow: upgraded, or refused by name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reports import ResilienceResult, ResultSchemaError, load_result, render_html, render_markdown

DATA = Path(__file__).parent / "data"


def legacy(name: str = "legacy-v1-invalid.json") -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def test_the_old_demo_document_is_upgraded_with_a_verdict_and_a_score() -> None:
    result = load_result(DATA / "legacy-v1-demo.json")
    assert result.schema_id == "chaosflow-report/1"
    assert result.verdict == "valid"
    assert result.score == 100.0  # every checker valid, every run completed or rolled back
    assert [i.name for i in result.invariants][:2] == ["duplicate_effect", "missing_compensation"]
    assert {r.outcome for r in result.runs} == {"completed", "rolled_back"}
    # The crash that struck and healed at 0.000 s is a point on the timeline, not a window.
    (crash,) = result.faults
    assert (crash.kind, crash.shape, crash.start_s, crash.end_s) == ("crash", "point", 0.0, 0.0)
    assert result.replay_command == "chaosflow demo --seed 0"


def test_the_old_invalid_document_keeps_every_anomaly_and_token() -> None:
    result = ResilienceResult.from_dict(legacy())
    assert result.verdict == "invalid"
    assert result.score is not None and result.score < 25  # invalid scores in 0..25
    assert [a.replay_token for a in result.anomalies] == ["tok-dup", "tok-miss"]
    assert [r.outcome for r in result.runs] == ["completed", "failed", "unfinished"]
    # A crash is an instant whatever the old document said of its heal; the partition never healed.
    assert [f.shape for f in result.faults] == ["point", "open"]
    assert result.faults[0].end_s == result.faults[0].start_s == 1.5


def test_an_upgraded_document_renders_and_writes_the_new_schema() -> None:
    result = ResilienceResult.from_dict(legacy())
    assert "**Verdict: INVALID**" in render_markdown(result)
    assert "verdict-invalid" in render_html(result)
    assert json.loads(result.dumps())["schema"] == "chaosflow-report/1"
    assert ResilienceResult.loads(result.dumps()) == result


def test_a_bad_old_document_is_named_by_its_own_fields() -> None:
    data = legacy()
    data["checkers"][0]["verdict"] = "maybe"
    with pytest.raises(ResultSchemaError, match=r"^result\.checkers\[0\]\.verdict='maybe'"):
        ResilienceResult.from_dict(data)
    data = legacy()
    del data["runs"][0]["state"]
    with pytest.raises(ResultSchemaError, match=r"^result\.runs\[0\]\.state is missing"):
        ResilienceResult.from_dict(data)


def test_a_newer_schema_version_says_to_upgrade() -> None:
    data = {**legacy(), "schema_version": 2}
    match = r"^result\.schema_version=2 is newer than this chaosflow reads.*Upgrade chaosflow"
    with pytest.raises(ResultSchemaError, match=match):
        ResilienceResult.from_dict(data)


@pytest.mark.parametrize("version", [0, -3, "1", None, True])
def test_a_nonsense_schema_version_is_refused(version: object) -> None:
    with pytest.raises(ResultSchemaError, match=r"^result\.schema_version=.* is not a schema"):
        ResilienceResult.from_dict({**legacy(), "schema_version": version})

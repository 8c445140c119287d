"""The result document ``chaosflow-report/1``: what every report is rendered from.

:class:`ResilienceResult` is defined once, as a pydantic model; its JSON Schema
(:func:`result_json_schema`) is published as ``docs/schema/chaosflow-report-1.json`` and a test
keeps the two equal. A result is built in code with :func:`build_result` (which works out the
verdict and the score) and read with :func:`load_result` / :meth:`ResilienceResult.loads`, which
check the ``schema`` first, upgrade a ``schema_version: 1`` document from older chaosflow, and name
the field path of anything wrong.

Version history: ``schema_version: 1`` (checkers, runs, faults, replay command; no verdict or
score in the document), then ``"schema": "chaosflow-report/1"`` (this module).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable
from functools import cache
from os import PathLike
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import (
    Field,
    StrictFloat,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)

from ._errors import ReportError, ResultSchemaError
from ._load_model import LoadSection, threshold_verdict
from ._model import (
    VERDICTS,
    CaseRecord,
    FaultRecord,
    HarnessError,
    InvariantResult,
    Mode,
    Name,
    Record,
    ResultVerdict,
    RunRecord,
    RunTimeline,
    ScenarioConfig,
    StepStats,
    validating,
)
from ._score import score_in_band, score_parts
from ._validation import check_utc_timestamp, schema_error

SCHEMA: Final = "chaosflow-report/1"
"""The ``schema`` a result document written by this version names."""

# Worst last: merging verdicts keeps the most severe one.
VERDICT_SEVERITY: Final = {"valid": 0, "unknown": 1, "invalid": 2}


def merge_verdicts(verdicts: Iterable[str]) -> str:
    """Merge verdicts worst first: any ``invalid`` wins, then any ``unknown``; none is ``unknown``.

    ``unknown`` is never read as ``valid``: a run nobody checked has not been shown to be safe.
    """
    worst: str | None = None
    for verdict in verdicts:
        if verdict not in VERDICT_SEVERITY:
            raise ReportError(
                f"merge_verdicts got verdict={verdict!r}, which is not one of "
                f"{', '.join(map(repr, VERDICTS))}. Pass invariant verdicts only."
            )
        if worst is None or VERDICT_SEVERITY[verdict] > VERDICT_SEVERITY[worst]:
            worst = verdict
    return "unknown" if worst is None else worst


def expected_verdict(
    invariants: Iterable[InvariantResult],
    load: LoadSection | None = None,
    error: HarnessError | None = None,
) -> str:
    """The verdict these parts of a result make: ``error`` if the harness failed, else the
    invariants merged worst-first with the load's thresholds (a broken one is ``invalid``)."""
    if error is not None:
        return "error"
    verdicts: list[str] = [i.verdict for i in invariants]
    if load is not None and load.thresholds:
        verdicts.append(threshold_verdict(load.thresholds))
    return merge_verdicts(verdicts)


class ResilienceResult(Record):
    """The result of one scenario (or load) run: verdict, score, what ran, what broke, replay."""

    schema_id: Literal["chaosflow-report/1"] = Field(
        alias="schema", description="the document's schema: chaosflow-report/1"
    )
    scenario: Name = Field(description="the scenario's name")
    verdict: ResultVerdict = Field(
        description="valid, invalid, unknown (undecided), or error (the harness failed)"
    )
    score: StrictFloat | None = Field(
        description="the resilience score, 0..100 (docs/reports.md); null when verdict is error"
    )
    error: HarnessError | None = Field(None, description="why the harness could not finish")
    mode: Mode = Field(description="sim (virtual clock) or real (processes, services)")
    seed: StrictInt = Field(description="the scheduler and fault seed")
    started_at: str = Field(description="when it started, ISO 8601 in UTC")
    duration_s: StrictFloat = Field(ge=0, description="how long it took, seconds")
    replay_command: str | None = Field(
        None, description="the command that reruns it (the first failing case, if one failed)"
    )
    config: ScenarioConfig = Field(
        default_factory=ScenarioConfig, description="what was asked for: workflow, inputs, faults"
    )
    invariants: tuple[InvariantResult, ...] = Field((), description="one verdict per invariant")
    cases: tuple[CaseRecord, ...] = Field((), description="the cases it ran (fault plans)")
    runs: tuple[RunRecord, ...] = Field((), description="every workflow run")
    steps: tuple[StepStats, ...] = Field((), description="per step: attempts, retries, undos")
    faults: tuple[FaultRecord, ...] = Field((), description="the fault timeline")
    timeline: RunTimeline | None = Field(None, description="the events of one run singled out")
    load: LoadSection | None = Field(None, description="present for a load run")
    artifacts: dict[str, str] = Field(
        default_factory=dict,
        description="large tables beside the document, by name: file (Parquet)",
    )

    @field_validator("started_at")
    @classmethod
    def _utc_timestamp(cls, value: str) -> str:
        return check_utc_timestamp(value)

    @model_validator(mode="after")
    def _consistent(self) -> ResilienceResult:
        expected = expected_verdict(self.invariants, self.load, self.error)
        if self.verdict != expected:
            raise ValueError(
                f"verdict {self.verdict!r} contradicts the result, whose invariants"
                f"{', thresholds' if self.load else ''}{' and error' if self.error else ''} "
                f"make it {expected!r}"
            )
        if not score_in_band(self.verdict, self.score):
            raise ValueError(
                f"score {self.score!r} is impossible for verdict {self.verdict!r}: "
                "see SCORE_BANDS (and an error result has score null)"
            )
        ids = [case.id for case in self.cases]
        if len(set(ids)) != len(ids):
            raise ValueError(f"case ids repeat: {sorted(i for i in ids if ids.count(i) > 1)}")
        known = set(ids)
        refs = [r.case for r in self.runs] + [f.case for f in self.faults]
        refs += [a.case for i in self.invariants for a in i.anomalies]
        unknown = sorted({ref for ref in refs if ref is not None and ref not in known})
        if unknown:
            raise ValueError(f"records refer to cases {unknown} that are not in cases")
        return self

    @property
    def anomalies(self) -> tuple[Any, ...]:
        """Every anomaly every invariant found, in invariant order."""
        return tuple(a for i in self.invariants for a in i.anomalies)

    def case(self, case_id: str | None) -> CaseRecord | None:
        """The case with ``case_id``, or None."""
        return next((c for c in self.cases if c.id == case_id), None)

    def to_dict(self) -> dict[str, Any]:
        """This result as JSON-ready data (lists, dicts, str, numbers, None)."""
        data: dict[str, Any] = self.model_dump(mode="json", by_alias=True)
        return data

    def dumps(self, *, indent: int | None = 2) -> str:
        """This result as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, data: object) -> ResilienceResult:
        """The result in the JSON-ready ``data``; :class:`ResultSchemaError` names what is wrong.

        The ``schema`` is checked before anything else, so a document from a newer chaosflow
        says so instead of failing on a field this version does not know; a ``schema_version: 1``
        document is upgraded (``reports._legacy``).
        """
        from ._legacy import upgrade

        document = upgrade(data)
        try:
            with validating():
                return cls.model_validate(document)
        except ValidationError as error:
            raise schema_error(error, "result", cls) from None

    @classmethod
    def loads(cls, text: str | bytes) -> ResilienceResult:
        """The result in the JSON document ``text``."""
        try:
            data = json.loads(text)
        except ValueError as error:  # JSONDecodeError, and UnicodeDecodeError for bytes
            raise ResultSchemaError(
                "result",
                f"is not a JSON document ({error})",
                "Pass the contents of a result.json written by chaosflow.",
            ) from None
        return cls.from_dict(data)


def build_result(**fields: Any) -> ResilienceResult:
    """A result from ``fields``, with its ``verdict`` and ``score`` worked out (unless given).

    Takes the fields of :class:`ResilienceResult` by name (``schema`` is filled in); a bad value
    raises :class:`ResultSchemaError` naming ``ResilienceResult.<field>``.
    """
    try:
        with validating():
            probe = _Parts.model_validate(
                {k: fields.get(k) for k in ("invariants", "runs", "load", "error") if k in fields}
            )
    except ValidationError as error:
        raise schema_error(error, "ResilienceResult", _Parts) from None
    verdict = expected_verdict(probe.invariants, probe.load, probe.error)
    fields.setdefault("schema", SCHEMA)
    fields.setdefault("verdict", verdict)
    if "score" not in fields:
        fields["score"] = score_parts(verdict, probe.invariants, probe.runs, probe.load).score
    try:
        with validating():
            return ResilienceResult.model_validate(fields)
    except ValidationError as error:
        raise schema_error(error, "ResilienceResult", ResilienceResult) from None


class _Parts(Record):
    # The parts the verdict and the score are made from, validated first so that build_result
    # can work them out from good data and report bad data by field.
    invariants: tuple[InvariantResult, ...] = ()
    runs: tuple[RunRecord, ...] = ()
    load: LoadSection | None = None
    error: HarnessError | None = None


def resilience_score(result: ResilienceResult) -> float | None:
    """The resilience score of ``result`` by today's formula (see ``reports._score``).

    Equal to ``result.score`` for a result built by this version; None for an ``error`` result.
    """
    return score_parts(result.verdict, result.invariants, result.runs, result.load).score


def load_result(path: str | PathLike[str]) -> ResilienceResult:
    """The result in the JSON file at ``path``; a bad document raises :class:`ResultSchemaError`.

    ``path`` may also be a folder holding a ``result.json``.
    """
    file = Path(path)
    if file.is_dir():
        file = file / "result.json"
    try:
        text = file.read_bytes()
    except OSError as error:
        raise ReportError(
            f"Cannot read the result file {str(file)!r} ({error.strerror or error}). "
            "Pass the path of a result.json that chaosflow wrote (or the folder holding it)."
        ) from None
    try:
        return ResilienceResult.loads(text)
    except ResultSchemaError as error:
        raise error.in_file(str(file)) from None


def result_json_schema() -> dict[str, Any]:
    """The JSON Schema of the result document, as published in ``docs/schema/``."""
    return copy.deepcopy(_json_schema())


@cache
def _json_schema() -> dict[str, Any]:
    schema = ResilienceResult.model_json_schema(by_alias=True, mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:chaosflow:schema:chaosflow-report-1",
        "title": "chaosflow result document (chaosflow-report/1)",
        **{k: v for k, v in schema.items() if k != "title"},
    }

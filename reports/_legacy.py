"""Reading older result documents: the ``schema`` check, and the ``schema_version: 1`` upgrade.

A ``schema_version: 1`` document (chaosflow before ``chaosflow-report/1``) had checkers, runs and
faults but no verdict, score, cases or configuration. It is validated as it was written (errors
name its own fields, ``result.checkers[0].verdict``), then carried over: checkers become
invariants, each run's state gives its outcome, each fault's ``at``/``healed_at`` its start, end
and shape; the verdict is the checkers' merged and the score is today's formula.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from pydantic import Field, StrictFloat, StrictInt, ValidationError, field_validator

from ._errors import FIX, ResultSchemaError
from ._model import AnomalyKind, InvariantVerdict, Mode, Name, Record, fault_shape, validating
from ._validation import check_utc_timestamp, schema_error

_SCHEMA: Final = "chaosflow-report/1"
_SCHEMA_PATTERN: Final = re.compile(r"chaosflow-report/(\d+)")
_SCHEMA_FIX: Final = (
    'A chaosflow result names its schema as "schema": "chaosflow-report/1" (or, from '
    'older chaosflow, "schema_version": 1); pass a result.json that chaosflow wrote.'
)
# The states a version-1 run could end in that left the system consistent.
_V1_ROLLED_BACK: Final = frozenset({"compensated", "cancelled"})


class _V1Anomaly(Record):
    kind: AnomalyKind
    run_id: str
    steps: tuple[str, ...]
    event_seqs: tuple[StrictInt, ...]
    replay_token: str | None
    detail: str


class _V1Checker(Record):
    name: Name
    verdict: InvariantVerdict
    anomalies: tuple[_V1Anomaly, ...]
    note: str = ""


class _V1Run(Record):
    run_id: str
    workflow: str
    state: Name
    started_at: StrictFloat
    ended_at: StrictFloat | None
    attempts: StrictInt = Field(ge=0)


class _V1Fault(Record):
    kind: Name
    target: str
    at: StrictFloat
    healed_at: StrictFloat | None
    detail: str


class _V1Result(Record):
    schema_version: StrictInt
    scenario: Name
    mode: Mode
    seed: StrictInt
    started_at: str
    duration_s: StrictFloat = Field(ge=0)
    checkers: tuple[_V1Checker, ...]
    runs: tuple[_V1Run, ...]
    faults: tuple[_V1Fault, ...]
    replay_command: str | None = None

    @field_validator("started_at")
    @classmethod
    def _utc(cls, value: str) -> str:
        return check_utc_timestamp(value)


def _check_schema(value: object) -> None:
    if value == _SCHEMA:
        return
    found = _SCHEMA_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if found and int(found.group(1)) > 1:
        raise ResultSchemaError(
            "result.schema",
            f"is newer than this chaosflow reads ({_SCHEMA})",
            "Upgrade chaosflow to read it, or render it with the chaosflow version that wrote it.",
            value=value,
        )
    raise ResultSchemaError(
        "result.schema", "is not a result schema this chaosflow knows", _SCHEMA_FIX, value=value
    )


def _check_version(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ResultSchemaError(
            "result.schema_version", "is not a schema version (they start at 1)", FIX, value=value
        )
    if value > 1:
        raise ResultSchemaError(
            "result.schema_version",
            f"is newer than this chaosflow reads (schema_version 1, or {_SCHEMA})",
            "Upgrade chaosflow to read it, or render it with the chaosflow version that wrote it.",
            value=value,
        )


def _outcome(run: _V1Run) -> str:
    if run.ended_at is None:
        return "unfinished"
    if run.state == "completed":
        return "completed"
    return "rolled_back" if run.state in _V1_ROLLED_BACK else "failed"


def _from_v1(old: _V1Result) -> dict[str, Any]:
    from ._schema import build_result

    result = build_result(
        scenario=old.scenario,
        mode=old.mode,
        seed=old.seed,
        started_at=old.started_at,
        duration_s=old.duration_s,
        replay_command=old.replay_command,
        invariants=[
            {
                "name": c.name,
                "verdict": c.verdict,
                "note": c.note,
                "anomalies": [
                    {
                        **a.model_dump(),
                        "replay_command": f"chaosflow replay {a.replay_token}"
                        if a.replay_token and a.replay_token.startswith(("cf1.", "cf2."))
                        else None,
                    }
                    for a in c.anomalies
                ],
            }
            for c in old.checkers
        ],
        runs=[
            {
                "run_id": r.run_id,
                "workflow": r.workflow,
                "state": r.state,
                "outcome": _outcome(r),
                "start_s": r.started_at,
                "end_s": r.ended_at,
                "attempts": r.attempts,
            }
            for r in old.runs
        ],
        faults=[
            {
                "kind": f.kind,
                "target": f.target,
                "shape": (shape := fault_shape(f.kind, f.at, f.healed_at)),
                "start_s": f.at,
                "end_s": f.at if shape == "point" else f.healed_at,
                "detail": f.detail,
            }
            for f in old.faults
        ],
    )
    return result.to_dict()


def upgrade(data: object) -> object:
    """``data`` as a ``chaosflow-report/1`` document: checked, and upgraded if it is older."""
    if not isinstance(data, Mapping):
        raise ResultSchemaError(
            "result", "is not an object (a result document)", _SCHEMA_FIX, value=data
        )
    if "schema" in data:
        _check_schema(data["schema"])
        return data
    if "schema_version" not in data:
        raise ResultSchemaError("result.schema", "is missing", _SCHEMA_FIX)
    _check_version(data["schema_version"])
    try:
        with validating():
            old = _V1Result.model_validate(data)
    except ValidationError as error:
        raise schema_error(error, "result", _V1Result) from None
    return _from_v1(old)

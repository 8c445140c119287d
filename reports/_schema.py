"""The versioned result of a chaos run: what every report is rendered from.

A :class:`ResilienceResult` is a tree of frozen dataclasses that validate themselves when they are
built, so a bad result fails where it is made, not where it is rendered. It round-trips through
JSON (:meth:`ResilienceResult.dumps` / :meth:`ResilienceResult.loads`); reading a document checks
its ``schema_version`` first and names the field path of anything wrong in it.

Version history:

1. The first version: checkers with anomalies, runs, faults, and the replay command.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Final, TypeVar

from . import _field_checks as check
from ._errors import ReportError, ResultSchemaError

SCHEMA_VERSION: Final = 1

ANOMALY_KINDS: Final = (
    "duplicate_effect",
    "missing_compensation",
    "spurious_compensation",
    "compensation_order",
    "dependency_order",
    "stuck_workflow",
    "lost_workflow",
    "contract_violation",
)

VERDICTS: Final = ("valid", "invalid", "unknown")

MODES: Final = ("sim", "real")

# A run in one of these states left the system consistent: done, or cleanly rolled back
# (``cancelled`` is a rollback a client asked for). Anything else is stuck or broke mid-rollback.
# ``compensated`` is the name ``rolled_back`` had before the orchestrator's schema version 2,
# kept so that older result documents score the same.
GOOD_RUN_STATES: Final = frozenset({"completed", "rolled_back", "compensated", "cancelled"})

# Worst last: merging verdicts keeps the most severe one.
VERDICT_SEVERITY: Final = {"valid": 0, "unknown": 1, "invalid": 2}

_D = TypeVar("_D")


def _set(obj: object, name: str, value: object) -> None:
    # The dataclasses are frozen; __post_init__ may still store the coerced value once.
    object.__setattr__(obj, name, value)


def merge_verdicts(verdicts: Iterable[str]) -> str:
    """Merge verdicts worst first: any ``invalid`` wins, then any ``unknown``; none is ``unknown``.

    ``unknown`` is never read as ``valid``: a run nobody checked has not been shown to be safe.
    """
    worst: str | None = None
    for verdict in verdicts:
        if verdict not in VERDICT_SEVERITY:
            raise ReportError(
                f"merge_verdicts got verdict={verdict!r}, which is not one of "
                f"{', '.join(map(repr, VERDICTS))}. Pass checker verdicts only."
            )
        if worst is None or VERDICT_SEVERITY[verdict] > VERDICT_SEVERITY[worst]:
            worst = verdict
    return "unknown" if worst is None else worst


@dataclass(frozen=True)
class Anomaly:
    """One broken invariant, with what a person needs to find it and replay it."""

    kind: str
    run_id: str
    steps: tuple[str, ...]
    event_seqs: tuple[int, ...]
    replay_token: str | None
    detail: str

    def __post_init__(self) -> None:
        check.check_choice(
            "Anomaly.kind",
            self.kind,
            ANOMALY_KINDS,
            "An anomaly's kind names the broken invariant.",
        )
        check.check_str("Anomaly.run_id", self.run_id)
        _set(self, "steps", check.as_tuple("Anomaly.steps", self.steps, str))
        _set(self, "event_seqs", check.as_tuple("Anomaly.event_seqs", self.event_seqs, int))
        check.check_str("Anomaly.replay_token", self.replay_token, optional=True)
        check.check_str("Anomaly.detail", self.detail)

    def to_dict(self) -> dict[str, Any]:
        """This anomaly as JSON-ready data."""
        return {
            "kind": self.kind,
            "run_id": self.run_id,
            "steps": list(self.steps),
            "event_seqs": list(self.event_seqs),
            "replay_token": self.replay_token,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class CheckerResult:
    """One checker's verdict on the run's history, with the anomalies it found."""

    name: str
    verdict: str
    anomalies: tuple[Anomaly, ...]
    note: str = ""

    def __post_init__(self) -> None:
        check.check_str("CheckerResult.name", self.name, nonempty=True)
        check.check_choice(
            "CheckerResult.verdict",
            self.verdict,
            VERDICTS,
            "A checker's verdict says whether its invariant held.",
        )
        _set(self, "anomalies", check.as_tuple("CheckerResult.anomalies", self.anomalies, Anomaly))
        check.check_str("CheckerResult.note", self.note)
        if self.verdict == "valid" and self.anomalies:
            raise ResultSchemaError(
                "CheckerResult.verdict",
                f"contradicts the {len(self.anomalies)} anomalies the checker reported",
                "A checker that found anomalies says 'invalid'; fix the checker.",
                value=self.verdict,
            )

    def to_dict(self) -> dict[str, Any]:
        """This checker result as JSON-ready data."""
        return {
            "name": self.name,
            "verdict": self.verdict,
            "anomalies": [a.to_dict() for a in self.anomalies],
            "note": self.note,
        }


@dataclass(frozen=True)
class RunRecord:
    """One workflow run as the scenario saw it; times are seconds since the scenario started."""

    run_id: str
    workflow: str
    state: str
    started_at: float
    ended_at: float | None
    attempts: int
    # Why the run did not complete (the failed step and its error, failed compensations), as
    # the orchestrator's failure summary says it in one line; None when it completed.
    failure: str | None = None

    def __post_init__(self) -> None:
        check.check_str("RunRecord.run_id", self.run_id)
        check.check_str("RunRecord.workflow", self.workflow)
        check.check_str("RunRecord.state", self.state, nonempty=True)
        _set(self, "started_at", check.as_float("RunRecord.started_at", self.started_at))
        _set(self, "ended_at", check.as_optional_float("RunRecord.ended_at", self.ended_at))
        check.check_int("RunRecord.attempts", self.attempts, minimum=0)
        check.check_str("RunRecord.failure", self.failure, optional=True)

    def to_dict(self) -> dict[str, Any]:
        """This run as JSON-ready data."""
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "state": self.state,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "attempts": self.attempts,
            "failure": self.failure,
        }


@dataclass(frozen=True)
class FaultRecord:
    """One injected fault; ``at`` and ``healed_at`` are seconds since the scenario started."""

    kind: str
    target: str
    at: float
    healed_at: float | None
    detail: str

    def __post_init__(self) -> None:
        check.check_str("FaultRecord.kind", self.kind, nonempty=True)
        check.check_str("FaultRecord.target", self.target)
        _set(self, "at", check.as_float("FaultRecord.at", self.at))
        _set(self, "healed_at", check.as_optional_float("FaultRecord.healed_at", self.healed_at))
        check.check_str("FaultRecord.detail", self.detail)

    def to_dict(self) -> dict[str, Any]:
        """This fault as JSON-ready data."""
        return {
            "kind": self.kind,
            "target": self.target,
            "at": self.at,
            "healed_at": self.healed_at,
            "detail": self.detail,
        }


def _check_schema_version(path: str, value: object) -> None:
    version = check.check_int(path, value)
    if version > SCHEMA_VERSION:
        raise ResultSchemaError(
            path,
            f"is newer than this version of reports reads (SCHEMA_VERSION={SCHEMA_VERSION})",
            "Upgrade chaosflow to read it, or re-run the scenario with this version "
            f"to write a version-{SCHEMA_VERSION} result.",
            value=value,
        )
    if version < 1:
        raise ResultSchemaError(
            path, "is not a schema version (they start at 1)", check.FIX, value=value
        )


@dataclass(frozen=True)
class ResilienceResult:
    """The result of one chaos scenario run: checker verdicts, runs, faults, how to replay it.

    ``started_at`` is an ISO 8601 UTC timestamp; every other time is seconds since then.
    """

    scenario: str
    mode: str
    seed: int
    started_at: str
    duration_s: float
    checkers: tuple[CheckerResult, ...]
    runs: tuple[RunRecord, ...]
    faults: tuple[FaultRecord, ...]
    replay_command: str | None = None
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self) -> None:
        _check_schema_version("ResilienceResult.schema_version", self.schema_version)
        check.check_str("ResilienceResult.scenario", self.scenario, nonempty=True)
        check.check_choice(
            "ResilienceResult.mode",
            self.mode,
            MODES,
            "The mode says whether the scenario ran simulated ('sim') or against real services.",
        )
        check.check_int("ResilienceResult.seed", self.seed)
        check.check_utc_timestamp("ResilienceResult.started_at", self.started_at)
        duration = check.as_float("ResilienceResult.duration_s", self.duration_s, minimum=0.0)
        _set(self, "duration_s", duration)
        for name, item_type in (
            ("checkers", CheckerResult),
            ("runs", RunRecord),
            ("faults", FaultRecord),
        ):
            value = check.as_tuple(f"ResilienceResult.{name}", getattr(self, name), item_type)
            _set(self, name, value)
        check.check_str("ResilienceResult.replay_command", self.replay_command, optional=True)

    @property
    def verdict(self) -> str:
        """The checkers' verdicts merged worst first; ``unknown`` when no checker ran."""
        return merge_verdicts(c.verdict for c in self.checkers)

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        """Every anomaly every checker found, in checker order."""
        return tuple(a for c in self.checkers for a in c.anomalies)

    def to_dict(self) -> dict[str, Any]:
        """This result as JSON-ready data (lists, dicts, str, numbers, None)."""
        return {
            "schema_version": self.schema_version,
            "scenario": self.scenario,
            "mode": self.mode,
            "seed": self.seed,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "replay_command": self.replay_command,
            "checkers": [c.to_dict() for c in self.checkers],
            "runs": [r.to_dict() for r in self.runs],
            "faults": [f.to_dict() for f in self.faults],
        }

    @classmethod
    def from_dict(cls, data: object) -> ResilienceResult:
        """The result in the JSON-ready ``data``; :class:`ResultSchemaError` names what is wrong.

        The ``schema_version`` is checked before anything else, so a document from a newer
        chaosflow says so instead of failing on a field this version does not know.
        """
        if isinstance(data, dict) and "schema_version" in data:
            _check_schema_version("result.schema_version", data["schema_version"])
        fields = _fields("result", "result", cls, data, required_extra=("schema_version",))
        checkers = []
        for i, item in enumerate(check.items_of(fields["checkers"], "result.checkers")):
            path = f"result.checkers[{i}]"
            checker = _fields(path, "checker result", CheckerResult, item)
            anomalies = check.items_of(checker["anomalies"], f"{path}.anomalies")
            checker["anomalies"] = [
                _read(Anomaly, f"{path}.anomalies[{j}]", "anomaly", a)
                for j, a in enumerate(anomalies)
            ]
            checkers.append(_build(CheckerResult, path, checker))
        fields["checkers"] = checkers
        for name, item_type, what in (("runs", RunRecord, "run"), ("faults", FaultRecord, "fault")):
            items = check.items_of(fields[name], f"result.{name}")
            fields[name] = [
                _read(item_type, f"result.{name}[{i}]", what, item) for i, item in enumerate(items)
            ]
        return _build(cls, "result", fields)

    def dumps(self, *, indent: int | None = 2) -> str:
        """This result as a JSON document."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def loads(cls, text: str | bytes) -> ResilienceResult:
        """The result in the JSON document ``text``."""
        try:
            data = json.loads(text)
        except ValueError as error:  # JSONDecodeError, and UnicodeDecodeError for bytes
            raise ResultSchemaError(
                "result",
                f"is not a JSON document ({error})",
                "Pass the contents of a result.json written by reports.",
            ) from None
        return cls.from_dict(data)


def _fields(
    path: str, what: str, cls: type, data: object, required_extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    declared = dataclasses.fields(cls)
    required = [
        f.name
        for f in declared
        if f.name in required_extra
        or (f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    ]
    optional = [f.name for f in declared if f.name not in required]
    return check.fields_of(data, path, what, required, optional)


def _build(cls: type[_D], path: str, fields: dict[str, Any]) -> _D:
    try:
        return cls(**fields)
    except ResultSchemaError as error:
        raise error.relocated(cls.__name__, path) from None


def _read(cls: type[_D], path: str, what: str, data: object) -> _D:
    return _build(cls, path, _fields(path, what, cls, data))


def load_result(path: str | PathLike[str]) -> ResilienceResult:
    """The result in the JSON file at ``path``; a bad document raises :class:`ResultSchemaError`."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        return ResilienceResult.loads(text)
    except ResultSchemaError as error:
        raise error.in_file(str(path)) from None

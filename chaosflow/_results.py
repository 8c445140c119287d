"""Turn a scenario's outcome into the result document that reports render (and its history).

The composition root is the one place that knows both sides: ``scenarios`` produces outcomes
(runs, the event log, the effects the services saw, the checkers' judgement) and ``reports``
reads ``chaosflow-report/1`` documents. Run states and event kinds are read as strings, so a
renamed state still maps: a run that did not end is ``unfinished``, one that completed is
``completed``, a terminal state naming a failure is ``failed``, and any other end is a clean
rollback (``rolled_back``).
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import pandas as pd

import reports
from scenarios import FileOutcome, ScenarioFile, ScenarioOutcome

from ._result_parts import (
    anomaly_records,
    case_record,
    event_dicts,
    fault_records,
    run_records,
    scenario_config,
    single_timeline,
)

EFFECT_COLUMNS: Final = (
    "case",
    "seq",
    "service",
    "kind",
    "key",
    "run_id",
    "step",
    "at",
    "pid",
    "payload",
)


@dataclass(frozen=True)
class ResultAndHistory:
    """A result document and the large tables that go to Parquet beside it."""

    result: reports.ResilienceResult
    history: dict[str, pd.DataFrame]


def _case_id(index: int) -> str:
    return f"case-{index + 1:03d}"


def _effects_frame(cases: Sequence[tuple[str, ScenarioOutcome]]) -> pd.DataFrame:
    import json

    rows = [
        {
            "case": case_id,
            "seq": e.seq,
            "service": e.service,
            "kind": e.kind,
            "key": e.key,
            "run_id": e.run_id,
            "step": e.step,
            "at": e.at,  # the service's own clock, not the scenario's
            "pid": e.pid,
            "payload": json.dumps(e.payload, sort_keys=True, default=str),
        }
        for case_id, outcome in cases
        for e in outcome.history.effects
    ]
    return pd.DataFrame(rows, columns=list(EFFECT_COLUMNS))


def _invariants(
    cases: Sequence[tuple[str, ScenarioOutcome]], anomalies: Mapping[str, list[Any]]
) -> list[reports.InvariantResult]:
    found: dict[str, list[Any]] = {}
    for _, outcome in cases:
        for check in outcome.judgement.results:
            found.setdefault(check.checker, []).append(check)
    invariants = []
    for name, checks in found.items():
        if len(checks) == 1:
            note = checks[0].note
        else:
            verdicts = pd.Series([str(c.verdict) for c in checks]).value_counts()
            note = f"{len(checks)} cases: " + ", ".join(f"{n} {v}" for v, n in verdicts.items())
        invariants.append(
            reports.InvariantResult(
                name=name,
                verdict=reports.merge_verdicts(str(c.verdict) for c in checks),
                anomalies=tuple(anomalies.get(name, [])),
                note=note,
            )
        )
    return invariants


def result_and_history(
    cases: Sequence[ScenarioOutcome],
    *,
    name: str | None = None,
    spec: ScenarioFile | None = None,
    replay_command: str | None = None,
) -> ResultAndHistory:
    """The result of ``cases`` (one outcome per case) and its history tables.

    ``spec`` is the scenario file they came from, if any (its configuration goes in the
    document). ``replay_command`` defaults to replaying the first failing case, or rerunning
    the file.
    """
    if not cases:
        raise ValueError("result_and_history needs at least one outcome")
    keyed = [(_case_id(i), outcome) for i, outcome in enumerate(cases)]
    events = reports.events_frame(
        event for case_id, outcome in keyed for event in event_dicts(case_id, outcome)
    )
    stats = reports.run_stats(events)
    anomalies: dict[str, list[Any]] = {}
    for case_id, outcome in keyed:
        for checker, record in anomaly_records(case_id, outcome, events):
            anomalies.setdefault(checker, []).append(record)
    case_records = [case_record(case_id, outcome) for case_id, outcome in keyed]
    first = cases[0]
    if replay_command is None:
        failing = next((c for c in case_records if c.verdict != "valid" and c.replay_command), None)
        if failing is not None:
            replay_command = failing.replay_command
        elif spec is not None:
            replay_command = f"chaosflow run {spec.path} --seed {first.scenario.seed}"
    result = reports.build_result(
        scenario=name or (spec.name if spec else first.scenario.name),
        mode=first.mode,
        seed=first.scenario.seed,
        started_at=first.started_at,
        duration_s=sum(o.duration_s for o in cases),
        replay_command=replay_command,
        config=scenario_config(first.scenario, spec),
        invariants=_invariants(keyed, anomalies),
        cases=case_records,
        runs=[run for case_id, outcome in keyed for run in run_records(case_id, outcome, stats)],
        steps=[
            reports.StepStats(**{str(k): v for k, v in row.items()})
            for row in reports.step_stats(events).to_dict("records")
        ],
        faults=[f for case_id, outcome in keyed for f in fault_records(case_id, outcome, events)],
        timeline=None,
    )
    result = result.model_copy(update={"timeline": single_timeline(result, events)})
    return ResultAndHistory(result, {"events": events, "effects": _effects_frame(keyed)})


def outcome_to_result(
    outcome: ScenarioOutcome, *, replay_command: str | None = None
) -> reports.ResilienceResult:
    """The report's view of one scenario run: times in seconds since the scenario began."""
    return result_and_history([outcome], replay_command=replay_command).result


def file_outcome_to_result(file_outcome: FileOutcome) -> reports.ResilienceResult:
    """One result for every case a scenario file ran (invariants merged worst-first)."""
    return file_result_and_history(file_outcome).result


def file_result_and_history(file_outcome: FileOutcome) -> ResultAndHistory:
    """:func:`file_outcome_to_result` with the history tables for Parquet."""
    return result_and_history(list(file_outcome.outcomes), spec=file_outcome.spec)


def error_result(
    name: str,
    error: BaseException,
    *,
    mode: str = "sim",
    seed: int = 0,
    during: str = "run",
    started_at: str | None = None,
    duration_s: float = 0.0,
    spec: ScenarioFile | None = None,
) -> reports.ResilienceResult:
    """The result of a run the harness could not finish: verdict ``error``, no score."""
    message = str(error) or "".join(traceback.format_exception_only(type(error), error)).strip()
    return reports.build_result(
        scenario=name,
        mode=mode if mode in reports.MODES else "sim",
        seed=seed,
        started_at=started_at or datetime.now(UTC).isoformat(timespec="seconds"),
        duration_s=max(duration_s, 0.0),
        config=scenario_config(spec.base_scenario(), spec) if spec else reports.ScenarioConfig(),
        error=reports.HarnessError(kind=type(error).__name__, message=message, during=during),
        replay_command=f"chaosflow run {spec.path} --seed {seed}" if spec else None,
    )


def result_with_load(
    result: reports.ResilienceResult, load: reports.LoadSection | Mapping[str, Any]
) -> reports.ResilienceResult:
    """``result`` with a ``load`` section (the shape of LOAD_SECTION.md), verdict and score redone.

    The load's fault windows join the fault timeline unless a fault of the same kind, target and
    start is already on it, so the HTML shades them on every time plot.
    """
    section = (
        load if isinstance(load, reports.LoadSection) else reports.LoadSection.model_validate(load)
    )
    faults = list(result.faults)
    present = {(f.kind, f.target, f.start_s) for f in faults}
    for window in section.fault_windows:
        if (window.kind, window.target, window.start_s) in present:
            continue
        shape = reports.fault_shape(window.kind, window.start_s, window.end_s)
        params = ", ".join(f"{k}={v}" for k, v in window.params.items())
        faults.append(
            reports.FaultRecord(
                kind=window.kind,
                target=window.target,
                shape=shape,
                start_s=window.start_s,
                end_s=window.start_s if shape == "point" else window.end_s,
                detail=f"{window.action}{f' ({params})' if params else ''}",
            )
        )
    fields = result.model_dump(exclude={"verdict", "score", "schema_id", "load", "faults"})
    return reports.build_result(**fields, faults=faults, load=section)

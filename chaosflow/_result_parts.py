"""The pieces of a result document, each made from one case's outcome (see ``_results``)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any, Final

import pandas as pd

import reports
from scenarios import Scenario, ScenarioFile, ScenarioOutcome
from scenarios.real import real_replay_token

# A run's events kept in the document's timeline; the rest are in events.parquet.
TIMELINE_EVENTS: Final = 400
_CLAIMS: Final = ("step_claimed", "compensation_claimed")


def _plain(value: Any) -> Any:
    # Inputs and plans may hold mappings and tuples of any kind: the document wants JSON data.
    return json.loads(json.dumps(value, default=str))


def event_dicts(case_id: str, outcome: ScenarioOutcome) -> Iterator[dict[str, Any]]:
    """The case's event log as plain dicts, times in seconds since the case began."""
    workflows = {run.run_id: run.workflow for run in outcome.runs}
    for event in outcome.history.events:
        yield {
            "case": case_id,
            "seq": event.seq,
            "run_id": event.run_id,
            "workflow": workflows.get(event.run_id, ""),
            "step": event.step,
            "kind": str(event.kind),
            "attempt": getattr(event, "attempt", 0),
            "worker_id": getattr(event, "worker_id", None),
            "t": event.at - outcome.origin,
            "detail": _plain(dict(getattr(event, "detail", {}) or {})),
        }


def _text_or_none(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _records(events: pd.DataFrame) -> tuple[reports.EventRecord, ...]:
    rows: list[dict[str, Any]] = [
        {str(k): v for k, v in r.items()} for r in events.to_dict("records")
    ]
    return tuple(
        reports.EventRecord(
            seq=int(row["seq"]),
            run_id=str(row["run_id"]),
            step=_text_or_none(row["step"]),
            kind=str(row["kind"]),
            attempt=int(row["attempt"]),
            worker_id=_text_or_none(row["worker_id"]),
            t=float(row["t"]),
            detail=json.loads(str(row["detail"])),
        )
        for row in rows
    )


def _replay_command(scenario: Scenario, token: str) -> str | None:
    # A token replays from its scenario file or from what it generated; a scenario built in
    # code has neither, and `chaosflow replay` would refuse it.
    return f"chaosflow replay {token}" if scenario.replayable() else None


def anomaly_records(
    case_id: str, outcome: ScenarioOutcome, events: pd.DataFrame
) -> Iterator[tuple[str, reports.Anomaly]]:
    """(checker, anomaly) for every anomaly of the case, each with its event excerpt."""
    mine = events[events["case"] == case_id]
    for check in outcome.judgement.results:
        for anomaly in check.anomalies:
            excerpt = mine[mine["seq"].isin(list(anomaly.event_seqs))]
            token = anomaly.replay_token
            yield (
                check.checker,
                reports.Anomaly(
                    kind=anomaly.kind,
                    run_id=anomaly.run_id,
                    case=case_id,
                    steps=tuple(anomaly.steps),
                    event_seqs=tuple(anomaly.event_seqs),
                    replay_token=token,
                    replay_command=_replay_command(outcome.scenario, token) if token else None,
                    detail=anomaly.detail,
                    events=_records(excerpt),
                ),
            )


def case_record(case_id: str, outcome: ScenarioOutcome) -> reports.CaseRecord:
    """The case: its fault plan in words, its verdict, and the token that reruns it."""
    # A real run's token says so, or a replay from the report would rerun it in the simulation.
    real = outcome.mode == "real"
    token = real_replay_token(outcome.scenario) if real else outcome.scenario.replay_token()
    return reports.CaseRecord(
        id=case_id,
        description=outcome.scenario.plan.describe().replace("\n", "; "),
        verdict=str(outcome.verdict),
        replay_token=token,
        replay_command=_replay_command(outcome.scenario, token),
        duration_s=max(outcome.duration_s, 0.0),
    )


def run_outcome(state: str, terminal: bool) -> str:
    """``completed``, ``rolled_back``, ``failed`` or ``unfinished``, from a state's name."""
    if not terminal:
        return "unfinished"
    if state == "completed":
        return "completed"
    return "failed" if "fail" in state else "rolled_back"


def run_records(
    case_id: str, outcome: ScenarioOutcome, stats: pd.DataFrame
) -> Iterator[reports.RunRecord]:
    """The case's runs, with attempts, retries, compensations and last error from the log."""
    mine: dict[str, dict[str, Any]] = {
        str(r["run_id"]): {str(k): v for k, v in r.items()}
        for r in stats[stats["case"] == case_id].to_dict("records")
    }
    # Which version a canary's submission chose: in the submission's event (orchestrator
    # events carry a detail; the checkers' protocol does not promise one).
    submitted = (
        (e.run_id, getattr(e, "detail", None) or {})
        for e in outcome.history.events
        if e.kind == "run_submitted"
    )
    canaries = {
        run_id: bool(detail["canary"].get("taken"))
        for run_id, detail in submitted
        if isinstance(detail.get("canary"), dict)
    }
    for run in outcome.runs:
        row = mine.get(run.run_id)
        state = str(run.state)
        yield reports.RunRecord(
            run_id=run.run_id,
            case=case_id,
            workflow=run.workflow,
            state=state,
            outcome=run_outcome(state, run.terminal),
            start_s=run.created_at - outcome.origin,
            end_s=(run.updated_at - outcome.origin) if run.terminal else None,
            attempts=int(row["attempts"]) if row is not None else 0,
            retries=int(row["retries"]) if row is not None else 0,
            compensations=int(row["compensations"]) if row is not None else 0,
            # The run's own failure summary when it has one (why it did not complete), else
            # the last step error its log shows.
            error=run.failure.reason
            if run.failure is not None
            else (None if row is None else _text_or_none(row["error"])),
            version=run.version,
            canary=canaries.get(run.run_id),
            priority=run.priority,
            fallbacks=tuple(
                sorted(
                    name
                    for name, step in run.steps.items()
                    if str(step) in ("replaced", "replaced_indeterminate")
                )
            ),
            stalled=run.stalled_at is not None,
        )


def _struck(target: str, at: float, events: pd.DataFrame) -> tuple[str | None, int | None]:
    """The run a crash at ``run/step@point`` struck, and its last claim before the crash."""
    run_part, _, rest = target.partition("/")
    step, _, point = rest.rpartition("@")
    if not (run_part and step and point):
        return None, None
    runs = events[events["run_id"] == run_part]
    if runs.empty:
        return None, None
    kind = "compensation_claimed" if "compensation" in point else "step_claimed"
    claims = runs[(runs["step"] == step) & (runs["kind"] == kind) & (runs["t"] <= at + 1e-9)]
    return run_part, (int(claims["seq"].iloc[-1]) if len(claims) else None)


def fault_records(
    case_id: str, outcome: ScenarioOutcome, events: pd.DataFrame
) -> Iterator[reports.FaultRecord]:
    """The case's faults on the timeline: a crash is a point, others a window or open."""
    mine = events[events["case"] == case_id]
    for fault in outcome.faults:
        start = fault.at - outcome.origin
        end = None if fault.healed_at is None else fault.healed_at - outcome.origin
        shape = reports.fault_shape(fault.kind, start, end)
        run_id, after_seq = _struck(fault.target, start, mine)
        yield reports.FaultRecord(
            kind=fault.kind,
            target=fault.target,
            case=case_id,
            shape=shape,
            start_s=start,
            end_s=start if shape == "point" else end,
            run_id=run_id,
            after_seq=after_seq,
            detail=fault.detail,
        )


def scenario_config(scenario: Scenario, spec: ScenarioFile | None) -> reports.ScenarioConfig:
    """What the scenario asked for: from its file when there is one, else from the scenario."""
    settings: Mapping[str, Any] = {
        "workers": scenario.workers,
        "lease_seconds": scenario.lease_seconds,
        "heal_after": scenario.heal_after,
        "progress_bound": scenario.progress_bound,
    }
    plan = spec.plan if spec is not None else scenario.plan
    return reports.ScenarioConfig(
        workflow=spec.workflow_spec if spec is not None else scenario.workflow.name,
        source=spec.path if spec is not None else scenario.source,
        explore=spec.explore if spec is not None else None,
        invariants=tuple(spec.invariants if spec is not None else scenario.invariants),
        inputs=tuple(_plain(dict(i)) for i in scenario.inputs),
        faults=_plain(plan.to_dict()),
        budget=reports.Budget(examples=spec.budget.examples, seconds=float(spec.budget.seconds))
        if spec is not None
        else None,
        settings=_plain(dict(settings)),
    )


def _chosen_run(result: reports.ResilienceResult) -> tuple[str | None, str, str] | None:
    if result.anomalies:
        first = result.anomalies[0]
        return first.case, first.run_id, f"The first anomaly: {first.kind} ({first.detail})"
    struck = next((f for f in result.faults if f.run_id), None)
    if struck is not None:
        return struck.case, str(struck.run_id), f"Struck by the {struck.kind} at {struck.target}"
    other = next((r for r in result.runs if r.outcome != "completed"), None)
    if other is not None:
        return other.case, other.run_id, f"The first run that did not complete ({other.state})"
    return None


def single_timeline(
    result: reports.ResilienceResult, events: pd.DataFrame
) -> reports.RunTimeline | None:
    """The events of one run worth reading: the first anomaly's, a struck one, or a rollback."""
    chosen = _chosen_run(result)
    if chosen is None:
        return None
    case_id, run_id, reason = chosen
    mine = events[(events["case"] == case_id) & (events["run_id"] == run_id)].sort_values("seq")
    return reports.RunTimeline(
        case=case_id,
        run_id=run_id,
        reason=reason,
        events=_records(mine.head(TIMELINE_EVENTS)),
        omitted=max(len(mine) - TIMELINE_EVENTS, 0),
    )

"""Turn a scenario's outcome into the versioned result document that reports render."""

from __future__ import annotations

from collections import Counter

import reports
from scenarios import FileOutcome, ScenarioOutcome


def outcome_to_result(
    outcome: ScenarioOutcome, *, replay_command: str | None = None
) -> reports.ResilienceResult:
    """The report's view of ``outcome``: times in seconds since the scenario began."""
    origin = outcome.origin
    claims = Counter(
        e.run_id
        for e in outcome.history.events
        if e.kind in ("step_claimed", "compensation_claimed")
    )
    runs = tuple(
        reports.RunRecord(
            run_id=run.run_id,
            workflow=run.workflow,
            state=str(run.state),
            started_at=run.created_at - origin,
            ended_at=(run.updated_at - origin) if run.terminal else None,
            attempts=claims[run.run_id],
            failure=run.failure.reason if run.failure else None,
        )
        for run in outcome.runs
    )
    faults = tuple(
        reports.FaultRecord(
            kind=f.kind,
            target=f.target,
            at=f.at - origin,
            healed_at=None if f.healed_at is None else f.healed_at - origin,
            detail=f.detail,
        )
        for f in outcome.faults
    )
    checkers = tuple(
        reports.CheckerResult(
            name=r.checker,
            verdict=str(r.verdict),
            anomalies=tuple(
                reports.Anomaly(
                    kind=a.kind,
                    run_id=a.run_id,
                    steps=tuple(a.steps),
                    event_seqs=tuple(a.event_seqs),
                    replay_token=a.replay_token,
                    detail=a.detail,
                )
                for a in r.anomalies
            ),
            note=r.note,
        )
        for r in outcome.judgement.results
    )
    return reports.ResilienceResult(
        scenario=outcome.scenario.name,
        mode=outcome.mode,
        seed=outcome.scenario.seed,
        started_at=outcome.started_at,
        duration_s=outcome.duration_s,
        checkers=checkers,
        runs=runs,
        faults=faults,
        replay_command=replay_command,
    )


def file_outcome_to_result(file_outcome: FileOutcome) -> reports.ResilienceResult:
    """One report for every case a scenario file ran: checkers merged worst-first."""
    results = [outcome_to_result(o) for o in file_outcome.outcomes]
    merged: dict[str, list[reports.CheckerResult]] = {}
    for result in results:
        for checker in result.checkers:
            merged.setdefault(checker.name, []).append(checker)
    checkers = tuple(
        reports.CheckerResult(
            name=name,
            verdict=reports.merge_verdicts([c.verdict for c in found]),
            anomalies=tuple(a for c in found for a in c.anomalies),
            note=f"{len(found)} case(s)",
        )
        for name, found in merged.items()
    )
    first = results[0]
    return reports.ResilienceResult(
        scenario=file_outcome.spec.name,
        mode=first.mode,
        seed=first.seed,
        started_at=first.started_at,
        duration_s=sum(r.duration_s for r in results),
        checkers=checkers,
        runs=tuple(run for r in results for run in r.runs),
        faults=tuple(fault for r in results for fault in r.faults),
        replay_command=f"chaosflow run {file_outcome.spec.path} --seed {first.seed}",
    )

"""A load run's figures and result document: measured with ``loadtests``, judged by the
checkers, written with the ``reports`` writer plus the ``load`` section (LOAD_SECTION.md).

The result document is ``chaosflow-report/1`` with its ``load`` section; the document's verdict
merges the checkers' (over every run the load submitted) with the thresholds, so a broken
threshold makes it ``invalid``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import loadtests
import reports

from ._load_run import LoadOutcome
from ._result_parts import run_outcome
from ._results import result_with_load

INSTANT_ACTIONS = ("sigkill", "restart")
ARTIFACTS = {
    "locust_csv_prefix": "locust",
    "locust_html": "locust.html",
    "plot": "load.png",
    "samples": "load_samples.jsonl",
    "series_csv": "load_series.csv",
}


@dataclass
class LoadReport:
    """The measured load run: its DataFrames, its ``load`` section, the result, the files."""

    samples: pd.DataFrame
    series: pd.DataFrame
    section: dict[str, Any]
    result: reports.ResilienceResult
    paths: dict[str, Path]

    @property
    def verdict(self) -> str:
        """The checkers' verdicts and the thresholds, merged worst first."""
        return self.result.verdict


def fault_windows(outcome: LoadOutcome) -> list[dict[str, Any]]:
    """Each fault window that struck, with its actual times in seconds since the load began."""
    origin = outcome.record.origin
    unused = list(outcome.timeline)
    windows = []
    order = sorted(enumerate(outcome.profile.faults), key=lambda f: (f[1]["trigger"]["at"], f[0]))
    for index, fault in order:
        record = next(
            (r for r in unused if r.kind == fault["kind"] and r.target == fault["target"]), None
        )
        if record is None:
            continue  # it never struck: the load ended first (reported by the caller)
        unused.remove(record)
        action = loadtests.fault_action(fault)
        start = record.at - origin
        healed = record.healed_at
        end = start if action in INSTANT_ACTIONS or healed is None else healed - origin
        windows.append(
            {
                "index": index,
                "kind": fault["kind"],
                "target": fault["target"],
                "action": action,
                "start_s": round(start, 3),
                "end_s": round(end, 3),
                "params": dict(fault.get("params") or {}),
            }
        )
    return sorted(windows, key=lambda w: int(w["index"]))


def measure(outcome: LoadOutcome) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The samples and per-second DataFrames, and the ``load`` section."""
    profile, record = outcome.profile, outcome.record
    samples = loadtests.samples_frame(record)
    series = loadtests.per_second(samples, loadtests.users_frame(record), until_s=record.length_s)
    store = loadtests.store_figures(outcome.events, outcome.runs, outcome.acknowledged)
    summary = loadtests.summarise(
        samples,
        loadtests.error_counts(record.samples),
        duration_s=profile.duration_s,
        store=store,
    )
    windows = fault_windows(outcome)
    recovery = loadtests.recovery_times(
        samples,
        windows,
        band=profile.recovery.band.model_dump(),
        baseline_s=profile.recovery.baseline_s,
        window_s=profile.recovery.window_s,
        warmup_s=profile.recovery.warmup_s,
        load_end_s=profile.duration_s,
    )
    thresholds = loadtests.evaluate_thresholds(
        profile.thresholds, loadtests.observed_metrics(summary, recovery)
    )
    section = loadtests.load_section(
        profile,
        summary=summary,
        series=loadtests.series_rows(series),
        fault_windows=windows,
        recovery=recovery,
        thresholds=thresholds,
        artifacts=ARTIFACTS,
    )
    return samples, series, section


def _invariants(outcome: LoadOutcome) -> list[reports.InvariantResult]:
    # The checkers' verdicts over every run the load submitted; the thresholds live in the
    # ``load`` section, and the document's verdict merges both.
    return [
        reports.InvariantResult(
            name=r.checker,
            verdict=str(r.verdict),
            anomalies=tuple(
                reports.Anomaly(
                    kind=a.kind,
                    run_id=a.run_id,
                    steps=tuple(a.steps),
                    event_seqs=tuple(a.event_seqs),
                    detail=a.detail,  # a load run is not replayed from a token
                )
                for a in r.anomalies
            ),
            note=r.note,
        )
        for r in outcome.judgement.results
    ]


def build_result(
    outcome: LoadOutcome, section: dict[str, Any], *, command: str
) -> reports.ResilienceResult:
    """The result document with its ``load`` section, times in seconds since the load began."""
    origin = outcome.record.origin
    claims = Counter(e.run_id for e in outcome.events if e.kind == "step_claimed")
    runs = [
        reports.RunRecord(
            run_id=run.run_id,
            workflow=run.workflow,
            state=str(run.state),
            outcome=run_outcome(str(run.state), run.terminal),
            start_s=max(run.created_at - origin, 0.0),
            end_s=max(run.updated_at - origin, 0.0) if run.terminal else None,
            attempts=claims[run.run_id],
            error=run.failure.reason if run.failure is not None else None,
        )
        for run in outcome.runs
    ]
    profile = outcome.profile
    result = reports.build_result(
        scenario=profile.name,
        mode="real",
        seed=profile.seed,
        started_at=outcome.started_at,
        duration_s=outcome.wall_s,
        replay_command=command,
        config=reports.ScenarioConfig(
            workflow=profile.workflow,
            invariants=tuple(r.checker for r in outcome.judgement.results),
            faults={"faults": list(profile.faults), "seed": profile.seed},
            settings={"users": profile.users, "duration_s": profile.duration_s},
        ),
        invariants=_invariants(outcome),
        runs=runs,
    )
    # The fault windows join the timeline there, and verdict and score take the thresholds.
    return result_with_load(result, section)


def write_load_reports(outcome: LoadOutcome, report_dir: Path, *, command: str) -> LoadReport:
    """Measure, judge and write ``result.json`` (with ``load``), the reports, the plot."""
    samples, series, section = measure(outcome)
    result = build_result(outcome, section, command=command)
    history = {"load_series": series} if not series.empty else None
    paths = reports.write_reports(
        result, report_dir, formats=("json", "md", "html", "junit"), history=history
    )
    plot = report_dir / ARTIFACTS["plot"]
    plot.write_bytes(
        loadtests.load_png(series, section["fault_windows"], title=outcome.profile.name)
    )
    series.to_csv(report_dir / ARTIFACTS["series_csv"], index=False)
    paths.update(
        plot=plot,
        locust_html=report_dir / ARTIFACTS["locust_html"],
        locust_csv=report_dir / "locust_stats_history.csv",
    )
    return LoadReport(samples, series, section, result, paths)

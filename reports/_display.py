"""How numbers and long values read in every report, and the rows every renderer shows.

The renderers differ in markup only: they take these rows (plain, unescaped text) and escape
each cell for their own format, so Markdown and HTML never disagree about a number. Long values
are clipped here for display only; the JSON document always keeps them whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ._analysis import Summary
from ._baseline import Comparison
from ._load_model import LoadSection
from ._model import RunRecord
from ._schema import ResilienceResult

NOT_APPLICABLE: Final = "n/a"
TEXT_LIMIT: Final = 300
"""Longer details and messages are clipped to this many characters for display."""
NAME_LIMIT: Final = 100
"""Longer names (scenarios, runs, steps, targets) are clipped to this many characters."""
TOKEN_PREVIEW: Final = 24
"""How much of a replay token shows before it folds."""


def clip(text: str, limit: int = TEXT_LIMIT) -> str:
    """``text`` cut to ``limit`` characters, with how much was left out; whole if it fits."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text) - limit + 1} more characters in result.json)"


def seconds(value: float | None) -> str:
    """A time or duration in seconds, or ``n/a`` when there is none."""
    return NOT_APPLICABLE if value is None else f"{value:.3f} s"


def millis(value: float | None) -> str:
    """A latency in milliseconds, or ``n/a`` when it was not measured."""
    return NOT_APPLICABLE if value is None else f"{value:.1f} ms"


def rate(value: float | None) -> str:
    """A fraction in 0..1 as a percentage, or ``n/a``."""
    return NOT_APPLICABLE if value is None else f"{value:.1%}"


def score(value: float | None) -> str:
    """A resilience score, to one decimal; ``none`` for a result whose harness failed."""
    return "none" if value is None else f"{value:.1f}"


def number(value: float | None, unit: str = "") -> str:
    """A figure to three significant places, or ``n/a``."""
    if value is None:
        return NOT_APPLICABLE
    return (f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}") + unit


def signed(value: float | None, unit: str = "") -> str:
    """A change with its sign (``+2.5``, ``-10.0``), or ``n/a``."""
    return NOT_APPLICABLE if value is None else f"{value:+.1f}{unit}"


def counts(by_name: Mapping[str, int]) -> str:
    """``{'a': 2, 'b': 1}`` as ``a: 2, b: 1``; ``none`` when empty."""
    return ", ".join(f"{name}: {n}" for name, n in by_name.items()) or "none"


def token_preview(token: str) -> str:
    """The start of a replay token, enough to tell tokens apart at a glance."""
    return token if len(token) <= TOKEN_PREVIEW else token[:TOKEN_PREVIEW] + "…"


def case_label(result: ResilienceResult, case_id: str | None) -> str:
    """``case-003: crash (raise) at after_action #1 of charge`` (or '' for no case)."""
    case = result.case(case_id)
    if case is None:
        return case_id or ""
    return f"{case.id}: {clip(case.description, NAME_LIMIT)}"


def _plain(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value)) or "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return str(value)


def about_rows(result: ResilienceResult) -> list[tuple[str, str]]:
    """What ran and how: mode, seed, start, duration, then the configuration asked for."""
    config = result.config
    rows = [
        ("mode", result.mode),
        ("seed", str(result.seed)),
        ("started at (UTC)", result.started_at),
        ("duration", seconds(result.duration_s)),
    ]
    optional: list[tuple[str, Any]] = [
        ("workflow", config.workflow),
        ("scenario file", config.source),
        ("exploration", config.explore),
        ("invariants asked", config.invariants),
        ("inputs", f"{len(config.inputs)} run(s)" if config.inputs else None),
        ("budget", config.budget.model_dump(exclude_none=True) if config.budget else None),
        ("settings", config.settings or None),
    ]
    rows += [(name, clip(_plain(value))) for name, value in optional if value]
    rows.append(("schema", result.schema_id))
    return rows


def summary_rows(numbers: Summary) -> list[tuple[str, str]]:
    """The summary table, one ``(metric, value)`` row per number."""
    cases = [("cases", str(numbers["cases_total"]))] if numbers["cases_total"] > 1 else []
    return [
        *cases,
        ("runs", str(numbers["runs_total"])),
        ("runs by outcome", counts(numbers["runs_by_outcome"])),
        ("runs by state", counts(numbers["runs_by_state"])),
        ("completion rate", rate(numbers["completion_rate"])),
        ("completed or cleanly rolled back", rate(numbers["good_rate"])),
        ("attempts (step and compensation claims)", str(numbers["attempts_total"])),
        (
            "duration p50 / p95 / max",
            " / ".join(
                seconds(numbers[k]) for k in ("duration_p50_s", "duration_p95_s", "duration_max_s")
            ),
        ),
        ("anomalies", f"{numbers['anomalies_total']} ({counts(numbers['anomalies_by_kind'])})"),
        ("faults injected", f"{numbers['faults_total']} ({counts(numbers['faults_by_kind'])})"),
    ]


def load_rows(load: LoadSection) -> list[tuple[str, str]]:
    """The load section's headline figures as ``(metric, value)`` rows."""
    profile, figures = load.profile, load.summary
    users = f"{profile.users} users" if profile.users is not None else None
    arrivals = f"{profile.arrival_rate:g}/s" if profile.arrival_rate is not None else None
    e2e, submit = figures.e2e_latency_ms, figures.submit_latency_ms
    return [
        (
            "profile",
            f"{profile.name}: {profile.shape}, {users or arrivals or 'n/a'}, "
            f"{profile.duration_s:g} s, {profile.distributed.workers} Locust worker(s)",
        ),
        (
            "runs submitted / completed / rolled back / failed / unfinished",
            " / ".join(
                str(n)
                for n in (
                    figures.submitted,
                    figures.completed,
                    figures.rolled_back,
                    figures.failed,
                    figures.unfinished,
                )
            ),
        ),
        ("completion rate", rate(figures.completion_rate)),
        (
            "throughput submitted / completed",
            f"{number(figures.throughput_submitted_per_s)}/s"
            f" / {number(figures.throughput_completed_per_s)}/s",
        ),
        (
            "end-to-end latency p50 / p95 / p99 / max",
            " / ".join(millis(v) for v in (e2e.p50, e2e.p95, e2e.p99, e2e.max)),
        ),
        (
            "submit latency p50 / p95 / p99 / max",
            " / ".join(millis(v) for v in (submit.p50, submit.p95, submit.p99, submit.max)),
        ),
        ("retry amplification", number(figures.retry_amplification, "x")),
        ("compensation rate", rate(figures.compensation_rate)),
        ("dropped iterations", str(figures.dropped_iterations)),
        ("errors", counts(figures.errors)),
    ]


def recovery_rows(load: LoadSection) -> list[tuple[str, str, str, str]]:
    """``(fault, healed at, recovered, time to recover)`` per fault window of the load."""
    windows = {w.index: w for w in load.fault_windows}
    rows = []
    for item in load.recovery:
        window = windows.get(item.fault_index)
        name = (
            f"#{item.fault_index} {window.kind} {window.action} on {window.target}"
            if window
            else f"#{item.fault_index}"
        )
        rows.append(
            (
                clip(name, NAME_LIMIT),
                seconds(item.healed_at_s),
                {True: "yes", False: "no", None: "no steady state before"}[item.recovered],
                seconds(item.time_to_recover_s),
            )
        )
    return rows


def threshold_rows(load: LoadSection) -> list[tuple[str, str, str]]:
    """``(criterion, observed, passed)`` per threshold of the load."""
    word = {True: "passed", False: "BROKEN", None: "undecided"}
    return [
        (f"{t.metric} {t.op} {t.value:g}", number(t.observed), word[t.passed])
        for t in load.thresholds
    ]


def comparison_rows(comparison: Comparison) -> list[tuple[str, str, str, str]]:
    """The baseline table: ``(what, baseline, this run, change)`` rows."""
    rate_delta = comparison.completion_rate_delta
    rows = [
        ("verdict", comparison.baseline_verdict, comparison.verdict, ""),
        (
            "score",
            score(comparison.baseline_score),
            score(comparison.score),
            signed(comparison.score_delta),
        ),
        (
            "completion rate",
            rate(comparison.baseline_completion_rate),
            rate(comparison.completion_rate),
            signed(None if rate_delta is None else rate_delta * 100, " points"),
        ),
    ]
    if comparison.p99_ms is not None or comparison.baseline_p99_ms is not None:
        rows.append(
            ("end-to-end p99", millis(comparison.baseline_p99_ms), millis(comparison.p99_ms), "")
        )
    if comparison.recovery_s is not None or comparison.baseline_recovery_s is not None:
        rows.append(
            (
                "longest time to recover",
                seconds(comparison.baseline_recovery_s),
                seconds(comparison.recovery_s),
                "",
            )
        )
    rows.append(("new anomalies", "", clip("; ".join(comparison.new_anomalies)) or "none", ""))
    rows.append(
        (
            "resolved kinds of anomaly",
            "",
            ", ".join(comparison.resolved_anomaly_kinds) or "none",
            "",
        )
    )
    return rows


def pattern_rows(runs: Sequence[RunRecord]) -> list[tuple[str, str]]:
    """How the orchestration patterns acted on ``runs``: one row per pattern that did (none
    when no run shows one, or the runs come from a chaosflow that did not record them)."""
    rows: list[tuple[str, str]] = []
    canary = [r for r in runs if r.canary is not None]
    if canary:
        taken = [r for r in canary if r.canary]
        versions = sorted({r.version for r in taken if r.version is not None})
        named = ", ".join(f"v{v}" for v in versions) or "the canary"
        failed = sum(1 for r in taken if r.outcome != "completed")
        rows.append(
            ("canary", f"{len(taken)} of {len(canary)} on {named} ({failed} did not complete)")
        )
    fell_back = [r for r in runs if r.fallbacks]
    if fell_back:
        steps = counts(
            {
                s: sum(1 for r in fell_back if s in (r.fallbacks or ()))
                for s in sorted({s for r in fell_back for s in (r.fallbacks or ())})
            }
        )
        rows.append(("fallback taken", f"{len(fell_back)} ({steps})"))
    stalled = [r for r in runs if r.stalled]
    if stalled:
        rows.append(("stall policy fired", str(len(stalled))))
    priorities = [r.priority for r in runs if r.priority is not None]
    if any(p != 0 for p in priorities):
        rows.append(
            ("priority", counts({str(p): priorities.count(p) for p in sorted(set(priorities))}))
        )
    return rows


def comparison_headline(comparison: Comparison) -> str:
    """One sentence: regressed or not, and why."""
    if comparison.regressed:
        return "Regressed: " + "; ".join(comparison.reasons) + "."
    return "No regression against the baseline."

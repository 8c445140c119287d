"""How numbers read in every report, and the rows of the tables every renderer shows.

The renderers differ in markup only: they take these rows (plain, unescaped text) and escape
each cell for their own format, so Markdown and HTML never disagree about a number.
"""

from __future__ import annotations

from collections.abc import Mapping

from ._analysis import Summary
from ._baseline import Comparison
from ._schema import ResilienceResult

NOT_APPLICABLE = "n/a"


def seconds(value: float | None) -> str:
    """A time or duration in seconds, or ``n/a`` when there is none."""
    return NOT_APPLICABLE if value is None else f"{value:.3f} s"


def rate(value: float | None) -> str:
    """A fraction in 0..1 as a percentage, or ``n/a``."""
    return NOT_APPLICABLE if value is None else f"{value:.1%}"


def score(value: float) -> str:
    """A resilience score, to one decimal."""
    return f"{value:.1f}"


def signed(value: float | None, unit: str = "") -> str:
    """A change with its sign (``+2.5``, ``-10.0``), or ``n/a``."""
    return NOT_APPLICABLE if value is None else f"{value:+.1f}{unit}"


def counts(by_name: Mapping[str, int]) -> str:
    """``{'a': 2, 'b': 1}`` as ``a: 2, b: 1``; ``none`` when empty."""
    return ", ".join(f"{name}: {n}" for name, n in by_name.items()) or "none"


def about_rows(result: ResilienceResult) -> list[tuple[str, str]]:
    """What ran: mode, seed, start, duration, schema version."""
    return [
        ("mode", result.mode),
        ("seed", str(result.seed)),
        ("started at (UTC)", result.started_at),
        ("duration", seconds(result.duration_s)),
        ("schema version", str(result.schema_version)),
    ]


def summary_rows(numbers: Summary) -> list[tuple[str, str]]:
    """The summary table, one ``(metric, value)`` row per number."""
    return [
        ("runs", str(numbers["runs_total"])),
        ("runs by state", counts(numbers["runs_by_state"])),
        ("unfinished runs", str(numbers["runs_unfinished"])),
        ("completion rate", rate(numbers["completion_rate"])),
        ("completed or cleanly rolled back", rate(numbers["good_rate"])),
        ("attempts (step and compensation claims)", str(numbers["attempts_total"])),
        ("duration p50", seconds(numbers["duration_p50_s"])),
        ("duration p95", seconds(numbers["duration_p95_s"])),
        ("duration max", seconds(numbers["duration_max_s"])),
        ("anomalies", str(numbers["anomalies_total"])),
        ("anomalies by kind", counts(numbers["anomalies_by_kind"])),
        ("faults injected", str(numbers["faults_total"])),
        ("faults by kind", counts(numbers["faults_by_kind"])),
    ]


def comparison_rows(comparison: Comparison) -> list[tuple[str, str, str, str]]:
    """The baseline table: ``(what, baseline, this run, change)`` rows."""
    rate_delta = comparison.completion_rate_delta
    return [
        ("scenario", comparison.baseline_scenario, comparison.scenario, ""),
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
        ("new kinds of anomaly", "", ", ".join(comparison.new_anomaly_kinds) or "none", ""),
        (
            "resolved kinds of anomaly",
            "",
            ", ".join(comparison.resolved_anomaly_kinds) or "none",
            "",
        ),
    ]


def comparison_headline(comparison: Comparison) -> str:
    """One sentence: regressed or not, and why."""
    if comparison.regressed:
        return "Regressed: " + "; ".join(comparison.reasons) + "."
    return "No regression against the baseline."

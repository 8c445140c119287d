"""The bench's summary: medians with their spread, the ratios, and the printed table."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

METRICS = ("steps_per_s", "runs_per_s", "p50_s", "p99_s", "peak_rss_mb")


def spread(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of ``values``, and the values themselves."""
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "values": [round(v, 4) for v in values],
    }


def summarise(measured: dict[str, Any]) -> dict[str, Any]:
    """Per store and workload: each system's figures, and the ratios, rep by rep."""
    raw: dict[str, dict[int, float]] = {}
    for row in measured["raw"]:
        raw.setdefault(row["store"], {})[row["rep"]] = row["commits_per_s"]
    grouped: dict[tuple[str, str], dict[str, dict[int, dict[str, Any]]]] = {}
    for row in measured["samples"]:
        key = (row["store"], row["workload"])
        grouped.setdefault(key, {}).setdefault(row["system"], {})[row["rep"]] = row
    workloads: dict[str, dict[str, Any]] = {}
    for (store, workload), systems in grouped.items():
        entry: dict[str, Any] = {}
        for system, reps in systems.items():
            entry[system] = {m: spread([r[m] for r in reps.values()]) for m in METRICS}
        ours, theirs = systems.get("chaosflow", {}), systems.get("dbos", {})
        both = sorted(set(ours) & set(theirs))
        if both:
            entry["chaosflow_over_dbos"] = spread(
                [ours[r]["steps_per_s"] / theirs[r]["steps_per_s"] for r in both]
            )
        with_raw = sorted(set(ours) & set(raw.get(store, {})))
        if with_raw:
            entry["chaosflow_over_raw"] = spread(
                [ours[r]["steps_per_s"] / raw[store][r] for r in with_raw]
            )
        workloads.setdefault(store, {})[workload] = entry
    return {
        "raw_commits_per_s": {store: spread(list(reps.values())) for store, reps in raw.items()},
        "workloads": workloads,
    }


def _cell(figures: dict[str, Any], metric: str) -> str:
    return f"{figures[metric]['median']:g}" if figures else "-"


def _ratio(entry: dict[str, Any], name: str) -> str:
    if name not in entry:
        return "-"
    r = entry[name]
    return f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})"


def table(result: dict[str, Any]) -> str:
    """A Markdown table of the medians: one row per store and workload."""
    lines = [
        "| store | workload | chaosflow steps/s | p50 s | p99 s | DBOS steps/s | p50 s | p99 s "
        "| chaosflow/DBOS | chaosflow/raw |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for store, workloads in result["workloads"].items():
        for workload, entry in workloads.items():
            ours, theirs = entry.get("chaosflow", {}), entry.get("dbos", {})

            lines.append(
                f"| {store} | {workload} | {_cell(ours, 'steps_per_s')} | {_cell(ours, 'p50_s')} "
                f"| {_cell(ours, 'p99_s')} | {_cell(theirs, 'steps_per_s')} | "
                f"{_cell(theirs, 'p50_s')} | {_cell(theirs, 'p99_s')} | "
                f"{_ratio(entry, 'chaosflow_over_dbos')} | {_ratio(entry, 'chaosflow_over_raw')} |"
            )
    for store, figures in result["raw_commits_per_s"].items():
        lines.append(
            f"\nraw single-row commits/s, {store}: {figures['median']:g} "
            f"({figures['min']:g}-{figures['max']:g})"
        )
    measured = result["measurements"]
    if "simulation" in measured:
        lines.append(f"simulation: {measured['simulation']['cases_per_min']} cases/min")
    if "recovery" in measured:
        rec = measured["recovery"]["sqlite"]
        lines.append(
            f"recovery after SIGKILL: p99 {rec['p99_s']} s against a {rec['lease_s']} s lease "
            f"({rec['p99_over_lease']} of it)"
        )
    if "worker_rss" in measured:
        rss = measured["worker_rss"]["sqlite"]
        lines.append(
            f"worker RSS over {rss['steps']} steps: first sample {rss['rss_first_mb']} MB, "
            f"last {rss['rss_last_mb']} MB ({rss['growth_first_to_last_mb']:+g} MB; after "
            f"{rss['warmup_steps']} steps of warm-up {rss['rss_after_warmup_mb']} MB, "
            f"{rss['growth_mb']:+g} MB since)"
        )
    return "\n".join(lines)

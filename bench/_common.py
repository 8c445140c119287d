"""What every bench process shares: the workloads' shapes, timing, percentiles, memory.

Each measurement runs in a process of its own (``python -m bench._chaosflow SPEC`` and so on),
so one system's warm caches, threads or leaked memory never colour the other's figures; the
process prints one JSON line, which the driver collects.
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

STEPS = 10  # every workflow of the bench has ten steps, each returning x + 1
FAN_OUT = 10
CONCURRENCY = 8


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values`` by the nearest-rank method; 0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(min(round(q * len(ordered) + 0.5) - 1, len(ordered) - 1), 0)
    return ordered[rank]


def peak_rss_mb() -> float:
    """This process's peak resident set, in MB (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    """This process's resident set now, in MB, from /proc."""
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1024 / 1024


def figures(
    *, runs: int, steps_per_run: int, seconds: float, latencies: Sequence[float]
) -> dict[str, Any]:
    """The figures of one measurement: throughput, latency quantiles, peak memory."""
    return {
        "runs": runs,
        "seconds": round(seconds, 4),
        "steps_per_s": round(runs * steps_per_run / seconds, 2) if seconds else 0.0,
        "runs_per_s": round(runs / seconds, 3) if seconds else 0.0,
        "p50_s": round(percentile(latencies, 0.5), 5),
        "p99_s": round(percentile(latencies, 0.99), 5),
        "mean_s": round(statistics.fmean(latencies), 5) if latencies else 0.0,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def emit(result: dict[str, Any]) -> None:
    """Hand the result to the driver: one JSON line on stdout, last."""
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


def spec_from_argv() -> dict[str, Any]:
    """The measurement's spec, given as one JSON argument."""
    spec: dict[str, Any] = json.loads(sys.argv[1])
    return spec


class Stopwatch:
    """Wall time since it was made."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self.started

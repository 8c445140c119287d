"""Time to recover: from each heal until throughput and p99 are back within a band of the steady
state before the fault. A pure function of the samples and the fault windows.

For a fault window from ``start`` to its heal ``h`` (for an instant fault, a SIGKILL, ``h`` is
the strike):

1. **Baseline.** The span ``[b, start)`` with ``b = max(warmup_s, start - baseline_s, the
   moment the previous fault recovered)``: the throughput ``B_tp`` (runs completed per second
   in it) and the p99 ``B_p99`` (end-to-end latency of the runs that ended in it). If the
   previous fault did not recover, the run was never steady since: its baseline is kept. With
   no run completed in the span, the baseline cannot be measured, and neither can recovery:
   ``recovered`` is ``None``.
2. **Search.** For ``s = h, h + step, ...``: the window ``[s, s + window_s)`` has throughput
   ``tp`` and p99 ``p``. The run has recovered at the first ``s`` with
   ``tp >= (1 - band.throughput) * B_tp`` and ``p <= (1 + band.p99) * B_p99``;
   ``time_to_recover_s = s - h``. The search stops where the next fault window starts or the
   load ends (a window must fit before it).
3. **Never.** If no ``s`` qualifies, ``recovered`` is ``False`` and ``recovered_at_s`` and
   ``time_to_recover_s`` are ``None``: "did not recover within the run", never a number.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from ._measures import ENDED

STEP_S = 0.5  # the resolution of a recovery time


def recovery_times(
    samples: pd.DataFrame,
    windows: Sequence[Mapping[str, Any]],
    *,
    band: Mapping[str, float],
    baseline_s: float,
    window_s: float,
    warmup_s: float,
    load_end_s: float,
) -> list[dict[str, Any]]:
    """One recovery record per fault window (``index``, ``start_s``, ``end_s``), in the
    ``recovery`` shape of the load section."""
    ended = samples[samples["outcome"].isin(ENDED)]
    ends = ended["end_s"].to_numpy(dtype=float)
    e2e = ended["e2e_ms"].to_numpy(dtype=float)
    completed = ended["outcome"].to_numpy() == "completed"
    ordered = sorted(windows, key=lambda w: float(w["start_s"]))
    records: list[dict[str, Any]] = []
    baseline: tuple[float, float | None] = (0.0, None)
    for position, window in enumerate(ordered):
        start, heal = float(window["start_s"]), float(window["end_s"])
        later = [float(w["start_s"]) for w in ordered[position + 1 :]]
        search_end = min([load_end_s, *later])
        previous = records[-1] if records else None
        if previous is None or previous["recovered"]:
            # After a recovered fault the steady state is the time since it recovered.
            since = previous["recovered_at_s"] if previous is not None else 0.0
            begin = max(warmup_s, start - baseline_s, since)
            if begin < start:
                baseline = _figures(ends, e2e, completed, begin, start)
        # Otherwise the run has not been steady since the last fault: keep that fault's baseline.
        base_tp, base_p99 = baseline
        record: dict[str, Any] = {
            "fault_index": int(window["index"]),
            "healed_at_s": heal,
            "recovered": None,
            "recovered_at_s": None,
            "time_to_recover_s": None,
            "band": {"throughput": float(band["throughput"]), "p99": float(band["p99"])},
        }
        records.append(record)
        if not base_tp or base_p99 is None:
            continue  # no steady state before the fault to recover to
        record["recovered"] = False
        floor_tp = (1.0 - band["throughput"]) * base_tp
        ceiling_p99 = (1.0 + band["p99"]) * base_p99
        steps = math.floor((search_end - window_s - heal) / STEP_S + 1e-9) + 1
        for k in range(max(0, steps)):
            s = heal + k * STEP_S
            tp, p99 = _figures(ends, e2e, completed, s, s + window_s)
            if p99 is not None and tp >= floor_tp and p99 <= ceiling_p99:
                record.update(
                    recovered=True, recovered_at_s=s, time_to_recover_s=round(s - heal, 6)
                )
                break
    return sorted(records, key=lambda r: int(r["fault_index"]))


def _figures(
    ends: Any, e2e: Any, completed: Any, start: float, end: float
) -> tuple[float, float | None]:
    """Throughput (completed per second) and p99 of the runs that ended in ``[start, end)``."""
    if end <= start:
        return 0.0, None
    inside = (ends >= start) & (ends < end)
    latencies = e2e[inside]
    tp = float(completed[inside].sum()) / (end - start)
    if latencies.size == 0:
        return tp, None
    import numpy as np

    return tp, float(np.quantile(latencies, 0.99))

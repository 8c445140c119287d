"""The figures of a load run, per second and overall, as pandas DataFrames and plain data.

Every figure is computed from the samples the users recorded (one per iteration: intended
start, submission, acknowledgement, end, outcome) and, for retries and compensations, from the
store's event log. Times are seconds since the load began; latencies milliseconds; a figure
that could not be measured (a percentile of nothing) is ``None``, never 0. docs/load.md defines
each one.

pandas is imported inside the functions, not with the module: the package is also imported by
the locustfile in every Locust process, which needs none of this.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from ._runner import LoadRecord

ENDED = ("completed", "rolled_back", "failed")  # outcomes of runs seen to end
SAMPLE_COLUMNS = (
    "outcome",
    "error",
    "run_id",
    "intended_s",
    "start_s",
    "ack_s",
    "end_s",
    "submit_ms",
    "e2e_ms",
    "dropped",
    "follow_errors",
    "follow_error_s",
    "pid",
)
SERIES_COLUMNS = (
    "t",
    "users",
    "submitted",
    "completed",
    "errors",
    "submit_p50_ms",
    "submit_p99_ms",
    "e2e_p50_ms",
    "e2e_p95_ms",
    "e2e_p99_ms",
)
_ROLLED_BACK_STATES = frozenset({"rolled_back", "compensated", "cancelled", "compensation_failed"})


def samples_frame(record: LoadRecord) -> pd.DataFrame:
    """One row per iteration (and per batch of dropped iterations), times since the origin."""
    import pandas as pd

    origin = record.origin
    rows = []
    for s in record.samples:
        ack = s.get("ack")
        acknowledged = s.get("run_id") is not None
        rows.append(
            {
                "outcome": s.get("outcome"),
                "error": s.get("error"),
                "run_id": s.get("run_id"),
                "intended_s": _since(s.get("intended"), origin),
                "start_s": _since(s.get("start"), origin),
                "ack_s": _since(ack, origin),
                "end_s": _since(s.get("end"), origin),
                "submit_ms": (ack - s["start"]) * 1000.0 if acknowledged and ack else math.nan,
                "e2e_ms": (s["end"] - s["intended"]) * 1000.0
                if s.get("outcome") in ENDED
                else math.nan,
                "dropped": int(s.get("count", 0)) if s.get("outcome") == "dropped" else 0,
                "follow_errors": sum((s.get("errors") or {}).values()),
                # When each failed poll of the follow happened (seconds since the origin).
                "follow_error_s": [t - origin for t in s.get("error_at") or ()],
                "pid": s.get("pid"),  # the Locust process that ran it
            }
        )
    frame = pd.DataFrame(rows, columns=list(SAMPLE_COLUMNS))
    # Typed even when empty, so a run with no samples still yields figures (None), not errors.
    numbers = [c for c in SAMPLE_COLUMNS if c.endswith(("_s", "_ms")) and c != "follow_error_s"]
    return frame.astype({c: "float64" for c in numbers} | {"dropped": "int64"})


def _since(value: float | None, origin: float) -> float:
    return math.nan if value is None else float(value) - origin


def users_frame(record: LoadRecord) -> pd.DataFrame:
    """The number of users running, about once a second (``t_s``, ``users``)."""
    import pandas as pd

    return pd.DataFrame([(t - record.origin, n) for t, n in record.users], columns=["t_s", "users"])


def _quantile(values: pd.Series, q: float) -> float | None:
    values = values.dropna()
    return None if values.empty else float(values.quantile(q))


def per_second(samples: pd.DataFrame, users: pd.DataFrame, *, until_s: float) -> pd.DataFrame:
    """One row per second ``t`` of the run (``[t, t+1)``), the figures of that second alone.

    ``errors`` counts failed submissions, failed polls while following, and runs that failed
    or were not seen to end, each in the second it happened."""
    import pandas as pd

    index = pd.RangeIndex(max(1, math.ceil(until_s)), name="t")
    acked = samples[samples["run_id"].notna()]
    ended = samples[samples["outcome"].isin(ENDED)]
    errored = samples[samples["outcome"].isin(("submit_error", "failed", "unfinished"))]

    def by_second(frame: pd.DataFrame, column: str) -> Any:
        return frame.groupby(frame[column].floordiv(1).astype("int64"))

    def count(frame: pd.DataFrame, column: str) -> pd.Series:
        return by_second(frame, column).size().reindex(index, fill_value=0)

    polls = samples["follow_error_s"].explode().dropna().astype(float).to_frame("at_s")

    def quantile(frame: pd.DataFrame, column: str, values: str, q: float) -> pd.Series:
        return by_second(frame, column)[values].quantile(q).reindex(index)

    seen = users.assign(t=users["t_s"].floordiv(1).astype("int64")).groupby("t")["users"].last()
    frame = pd.DataFrame(
        {
            "t": index.astype(float),
            "users": seen.reindex(index).ffill().fillna(0).astype(int),
            "submitted": count(acked, "ack_s"),
            "completed": count(ended[ended["outcome"] == "completed"], "end_s"),
            "errors": count(errored, "end_s") + count(polls, "at_s"),
            "submit_p50_ms": quantile(acked, "ack_s", "submit_ms", 0.50),
            "submit_p99_ms": quantile(acked, "ack_s", "submit_ms", 0.99),
            "e2e_p50_ms": quantile(ended, "end_s", "e2e_ms", 0.50),
            "e2e_p95_ms": quantile(ended, "end_s", "e2e_ms", 0.95),
            "e2e_p99_ms": quantile(ended, "end_s", "e2e_ms", 0.99),
        },
        index=index,
    )
    return frame.reset_index(drop=True)[list(SERIES_COLUMNS)]


def series_rows(series: pd.DataFrame) -> list[dict[str, Any]]:
    """The per-second frame as JSON-ready rows: counts as ints, missing percentiles as None."""
    rows = []
    for record in series.to_dict("records"):
        row: dict[str, Any] = {}
        for key, value in record.items():
            name = str(key)
            if name.endswith("_ms") or name == "t":
                row[name] = None if math.isnan(value) else float(value)
            else:
                row[name] = int(value)
        rows.append(row)
    return rows


def latency_summary(values: pd.Series) -> dict[str, float | None]:
    """p50, p95, p99 and max of ``values`` (milliseconds); ``None`` each when there are none."""
    values = values.dropna()
    return {
        "p50": _quantile(values, 0.50),
        "p95": _quantile(values, 0.95),
        "p99": _quantile(values, 0.99),
        "max": None if values.empty else float(values.max()),
    }


def error_counts(record_samples: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Errors by kind: failed submissions, failed polls while following, runs that failed or
    were not seen to end."""
    counts: Counter[str] = Counter()
    for s in record_samples:
        outcome = s.get("outcome")
        if outcome == "submit_error":
            counts[str(s.get("error"))] += 1
        elif outcome in ("failed", "unfinished"):
            counts[f"run_{outcome}"] += 1
        for kind, n in (s.get("errors") or {}).items():
            counts[str(kind)] += int(n)
    return dict(sorted(counts.items()))


def store_figures(
    events: Sequence[Any], runs: Sequence[Any], run_ids: Iterable[str]
) -> dict[str, float | None]:
    """Retry amplification (step attempts per step that ran) and compensation rate (rolled-back
    runs per ended run) of the runs ``run_ids``, from the store's event log and run states."""
    ours = set(run_ids)
    claims: Counter[tuple[str, str]] = Counter(
        (e.run_id, e.step) for e in events if e.kind == "step_claimed" and e.run_id in ours
    )
    ended = [r for r in runs if r.run_id in ours and r.terminal]
    rolled_back = sum(str(r.state) in _ROLLED_BACK_STATES for r in ended)
    return {
        "retry_amplification": (sum(claims.values()) / len(claims)) if claims else None,
        "compensation_rate": (rolled_back / len(ended)) if ended else None,
    }


def summarise(
    samples: pd.DataFrame,
    errors: Mapping[str, int],
    *,
    duration_s: float,
    store: Mapping[str, float | None],
) -> dict[str, Any]:
    """The ``summary`` of the load section: counts, rates, latencies, errors, amplification."""
    acked = samples[samples["run_id"].notna()]
    counts = acked["outcome"].value_counts()
    submitted = len(acked)
    completed = int(counts.get("completed", 0))
    return {
        "submitted": submitted,
        "completed": completed,
        "rolled_back": int(counts.get("rolled_back", 0)),
        "failed": int(counts.get("failed", 0)),
        "unfinished": int(counts.get("unfinished", 0)),
        "completion_rate": (completed / submitted) if submitted else None,
        "throughput_submitted_per_s": submitted / duration_s,
        "throughput_completed_per_s": completed / duration_s,
        "submit_latency_ms": latency_summary(acked["submit_ms"]),
        "e2e_latency_ms": latency_summary(acked["e2e_ms"]),
        "errors": dict(errors),
        "retry_amplification": store.get("retry_amplification"),
        "compensation_rate": store.get("compensation_rate"),
        "dropped_iterations": int(samples["dropped"].sum()),
    }


def window_p99(
    samples: pd.DataFrame, start_s: float, end_s: float, *, by: str = "end"
) -> float | None:
    """p99 end-to-end latency of the runs that ended (``by="end"``) or were meant to start
    (``by="start"``) in ``[start_s, end_s)``. By start, a window counts every run the fault
    slowed, even those that could not end inside it."""
    column = {"end": "end_s", "start": "intended_s"}[by]
    ended = samples[samples["outcome"].isin(ENDED)]
    inside = ended[(ended[column] >= start_s) & (ended[column] < end_s)]
    return _quantile(inside["e2e_ms"], 0.99)

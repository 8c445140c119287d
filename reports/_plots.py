"""The report's plots, as PNG bytes: runs over time, load over time, steps, one run's events.

Drawn with matplotlib's object API on an Agg canvas (``Figure`` + ``FigureCanvasAgg``), never
through pyplot: pyplot keeps global figure state and switching its backend would change the
caller's matplotlib set-up, while an explicit Agg canvas renders the same PNG in any process,
thread or notebook. Faults are drawn the way Jepsen shades its nemesis: a window is a shaded
span, a fault that struck at an instant (a crash) is a solid line with its kind written on it.
Each function returns None when the result has nothing for it to draw.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from typing import Final

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ._analysis import load_frame, runs_frame
from ._model import FaultRecord
from ._schema import ResilienceResult

OUTCOME_COLOURS: Final = {
    "completed": "#2e7d32",
    "rolled_back": "#1565c0",
    "failed": "#c62828",
    "unfinished": "#ef6c00",
}
_FAULT: Final = "#d32f2f"
# Beyond this many rows the labels overlap and say nothing; the bars still do.
_MAX_LABELS: Final = 40
_MAX_TITLE: Final = 90
_MIN_BAR: Final = 0.01  # of the plotted span
_EVENT_STYLE: Final = {  # kind -> (marker, colour, legend label)
    "step_claimed": (">", "#455a64", "claimed"),
    "compensation_claimed": ("<", "#455a64", "compensation claimed"),
    "step_completed": ("o", "#2e7d32", "completed"),
    "step_failed": ("X", "#c62828", "failed"),
    "step_retry_scheduled": ("^", "#f9a825", "retry scheduled"),
    "step_compensated": ("s", "#1565c0", "compensated"),
    "compensation_failed": ("X", "#6a1b9a", "compensation failed"),
}
_OTHER_EVENT: Final = (".", "#9e9e9e", "other")


def plain(text: str) -> str:
    """``text`` safe for a matplotlib label: one line, clipped, and no ``$`` mathtext."""
    flat = " ".join(text.split())
    if len(flat) > _MAX_TITLE:
        flat = flat[: _MAX_TITLE - 3] + "..."
    return flat.replace("$", r"\$")


def _png(figure: Figure, dpi: int) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A name in a script the bundled font lacks draws as a box; a warning would abort the
        # report under warnings-as-errors for no gain.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def draw_faults(axes: Axes, faults: Iterable[FaultRecord], end: float, *, label: bool) -> None:
    """Shade fault windows (to ``end`` if never healed) and draw point faults as lines."""
    for fault in faults:
        if fault.shape == "point":
            axes.axvline(fault.start_s, color=_FAULT, linewidth=1.6, zorder=3)
            if label:
                axes.annotate(
                    plain(fault.kind),
                    (fault.start_s, 1.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(3, -10),
                    textcoords="offset points",
                    color=_FAULT,
                    fontsize=8,
                    fontweight="bold",
                )
        else:
            stop = fault.end_s if fault.end_s is not None else end
            axes.axvspan(fault.start_s, stop, color=_FAULT, alpha=0.15, linewidth=0)
            axes.axvline(fault.start_s, color=_FAULT, linewidth=0.8, linestyle="--")


def _fault_handles(faults: tuple[FaultRecord, ...]) -> list[Patch | Line2D]:
    handles: list[Patch | Line2D] = []
    if any(f.shape != "point" for f in faults):
        handles.append(Patch(color=_FAULT, alpha=0.15, label="fault window"))
    if any(f.shape == "point" for f in faults):
        handles.append(Line2D([], [], color=_FAULT, linewidth=1.6, label="fault (an instant)"))
    return handles


def _span(result: ResilienceResult) -> tuple[float, float]:
    times = [0.0]  # not duration_s: the harness's wall time, while runs may be on a virtual clock
    for run in result.runs:
        times += [run.start_s, run.end_s or 0.0]
    for fault in result.faults:
        times += [fault.start_s, fault.end_s or 0.0]
    start, end = min(times), max(times) or 1.0
    return start, end


def runs_png(result: ResilienceResult, *, dpi: int = 100) -> bytes | None:
    """Runs as bars from start to end, coloured by outcome, faults drawn over them."""
    frame = runs_frame(result)
    if frame.empty:
        return None
    start, end = _span(result)
    margin = (end - start) * 0.02
    height = 2.2 + 0.26 * len(frame) if len(frame) <= _MAX_LABELS else 6.0
    figure = _figure(9.0, min(height, 12.8))
    axes = figure.add_subplot()
    draw_faults(axes, result.faults, end, label=True)
    outcomes = [str(o) for o in frame["outcome"]]
    axes.barh(
        range(len(frame)),
        # A run that took no time (virtual clock) still gets a sliver, or it would vanish.
        (frame["end_s"].fillna(end) - frame["start_s"]).clip(lower=(end - start) * _MIN_BAR),
        left=frame["start_s"],
        height=0.6,
        color=[OUTCOME_COLOURS.get(o, "#9e9e9e") for o in outcomes],
        hatch=[None if done else "//" for done in frame["finished"]],
        edgecolor="white",
        linewidth=0.5,
    )
    axes.set_ylim(len(frame) - 0.5, -0.5)  # the first run on top
    several_cases = frame["case"].nunique() > 1
    if len(frame) <= _MAX_LABELS:
        labels = [
            plain(f"{case} · {run}" if several_cases else str(run))
            for case, run in zip(frame["case"], frame["run_id"], strict=True)
        ]
        axes.set_yticks(range(len(frame)), labels, fontsize=8)
    elif several_cases and frame["case"].nunique() <= _MAX_LABELS:
        # Too many runs to name, few enough cases: name each case beside its group of runs.
        groups = frame.groupby("case", sort=False).groups
        middles = [sum(rows) / len(rows) for rows in groups.values()]
        axes.set_yticks(middles, [plain(str(case)) for case in groups], fontsize=7)
    else:
        axes.set_yticks([])
    if several_cases:
        for row in frame.index[frame["case"].ne(frame["case"].shift())][1:]:
            axes.axhline(row - 0.5, color="#b0bec5", linewidth=0.6)
    axes.set_ylabel(f"runs ({len(frame)})")
    axes.set_xlim(start - margin, end + margin)
    axes.set_xlabel("seconds since the scenario (each case) started")
    axes.set_title(plain(f"Runs over time: {result.scenario}"), fontsize=11)
    handles: list[Patch | Line2D] = [
        Patch(color=OUTCOME_COLOURS.get(o, "#9e9e9e"), label=o.replace("_", " "))
        for o in sorted(set(outcomes))
    ]
    axes.legend(
        handles=handles + _fault_handles(result.faults),
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        fontsize=8,
    )
    return _png(figure, dpi)


def load_png(result: ResilienceResult, *, dpi: int = 100) -> bytes | None:
    """Throughput and end-to-end latency percentiles per second, fault windows shaded on both."""
    frame = load_frame(result)
    if frame.empty:
        return None
    end = float(frame["t"].max())
    figure = _figure(9.0, 5.6)
    throughput, latency = figure.subplots(2, 1, sharex=True)
    faults = result.faults
    for axes in (throughput, latency):
        draw_faults(axes, faults, end, label=axes is throughput)
    throughput.plot(frame["t"], frame["submitted"], color="#546e7a", label="submitted/s")
    throughput.plot(frame["t"], frame["completed"], color="#2e7d32", label="completed/s")
    throughput.plot(frame["t"], frame["errors"], color="#c62828", label="errors/s")
    throughput.set_ylabel("runs per second")
    throughput.set_title(plain(f"Load over time: {result.scenario}"), fontsize=11)
    for column, colour in (
        ("e2e_p50_ms", "#90caf9"),
        ("e2e_p95_ms", "#1e88e5"),
        ("e2e_p99_ms", "#0d47a1"),
    ):
        latency.plot(frame["t"], frame[column], color=colour, label=column[4:7] + " end to end")
    if frame["submit_p99_ms"].notna().any():
        latency.plot(
            frame["t"], frame["submit_p99_ms"], color="#8d6e63", linestyle=":", label="p99 submit"
        )
    latency.set_ylabel("latency (ms)")
    latency.set_xlabel("seconds since the load started")
    for axes in (throughput, latency):
        handles, _ = axes.get_legend_handles_labels()
        extra = _fault_handles(faults) if axes is throughput else []
        axes.legend(
            handles=handles + extra, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8
        )
        axes.set_ylim(bottom=0)
    return _png(figure, dpi)


def steps_png(result: ResilienceResult, *, dpi: int = 100) -> bytes | None:
    """Retries, failures and compensations per step, as grouped horizontal bars."""
    steps = result.steps
    if not steps:
        return None
    several = len({s.workflow for s in steps}) > 1
    labels = [plain(f"{s.workflow}.{s.step}" if several else s.step) for s in steps]
    series = (
        ("retries", "#f9a825"),
        ("failures", "#c62828"),
        ("compensations", "#1565c0"),
        ("compensation_failures", "#6a1b9a"),
    )
    figure = _figure(9.0, min(1.8 + 0.45 * len(steps), 10.0))
    axes = figure.add_subplot()
    height = 0.8 / len(series)
    for offset, (name, colour) in enumerate(series):
        values = [getattr(s, name) for s in steps]
        rows = [i - 0.4 + height * (offset + 0.5) for i in range(len(steps))]
        axes.barh(rows, values, height=height, color=colour, label=name.replace("_", " "))
    axes.set_yticks(range(len(steps)), labels, fontsize=8)
    axes.set_ylim(len(steps) - 0.5, -0.5)
    axes.set_xlabel("count over every run of the result")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title("Retries and compensations per step", fontsize=11)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return _png(figure, dpi)


def run_events_png(result: ResilienceResult, *, dpi: int = 100) -> bytes | None:
    """The singled-out run's events in log order, one lane per step, faults where they struck."""
    timeline = result.timeline
    if timeline is None or not timeline.events:
        return None
    events = timeline.events
    lanes = list(dict.fromkeys(e.step or "(run)" for e in events))
    figure = _figure(9.0, min(1.8 + 0.42 * len(lanes), 8.0))
    axes = figure.add_subplot()
    seen: dict[str, Line2D] = {}
    for x, event in enumerate(events):
        marker, colour, label = _EVENT_STYLE.get(event.kind, _OTHER_EVENT)
        if event.kind.startswith("run_"):
            marker, colour, label = "D", "#37474f", "run event"
        (point,) = axes.plot(
            [x],
            [lanes.index(event.step or "(run)")],
            marker=marker,
            color=colour,
            markersize=8,
            linestyle="none",
            label=label,
        )
        seen.setdefault(label, point)
    positions = {e.seq: x for x, e in enumerate(events)}
    for fault in result.faults:
        ours = fault.run_id == timeline.run_id and fault.case == timeline.case
        if ours and fault.after_seq in positions:
            where = positions[fault.after_seq] + 0.5
            axes.axvline(where, color=_FAULT, linewidth=1.6)
            axes.annotate(
                plain(fault.kind),
                (where, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, -10),
                textcoords="offset points",
                color=_FAULT,
                fontsize=8,
                fontweight="bold",
            )
            seen.setdefault("fault", Line2D([], [], color=_FAULT, label="fault struck"))
    axes.set_yticks(range(len(lanes)), [plain(lane) for lane in lanes], fontsize=8)
    axes.set_ylim(len(lanes) - 0.5, -0.5)
    step = max(1, len(events) // 20)
    axes.set_xticks(range(0, len(events), step), [str(e.seq) for e in events][::step], fontsize=8)
    axes.set_xlabel("event sequence number, in log order (times are in the table)")
    axes.set_title(plain(f"Events of run {timeline.run_id}"), fontsize=11)
    axes.legend(
        handles=list(seen.values()), loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8
    )
    return _png(figure, dpi)

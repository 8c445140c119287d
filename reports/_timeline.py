"""The timeline plot: runs as horizontal bars over time, coloured by state, fault windows shaded.

Drawn with matplotlib's object API on an Agg canvas (``Figure`` + ``FigureCanvasAgg``), never
through pyplot: pyplot keeps global figure state and switching its backend would change the
caller's matplotlib set-up, while an explicit Agg canvas renders the same PNG in any process,
thread or notebook.
"""

from __future__ import annotations

import io
import warnings
from typing import Final

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from ._analysis import runs_frame
from ._schema import ResilienceResult

STATE_COLOURS: Final = {
    "completed": "#2e7d32",
    "rolled_back": "#1565c0",
    "compensated": "#1565c0",  # rolled_back's name in older result documents
    "cancelled": "#78909c",
    "compensation_failed": "#c62828",
    "compensating": "#f9a825",
    "cancelling": "#8d6e63",
    "running": "#ef6c00",
}
_OTHER_COLOUR: Final = "#9e9e9e"
_FAULT_COLOUR: Final = "#d32f2f"
# Beyond this many runs the run ids overlap and say nothing; the bars still do.
_MAX_LABELLED_RUNS: Final = 40
_MAX_TITLE: Final = 90
_MIN_BAR: Final = 0.01  # of the plotted span


def _plain(text: str) -> str:
    # matplotlib reads $...$ as mathtext: a scenario name with dollars must not become maths.
    flat = " ".join(text.split())
    if len(flat) > _MAX_TITLE:
        flat = flat[: _MAX_TITLE - 3] + "..."
    return flat.replace("$", r"\$")


def _end_of(result: ResilienceResult) -> float:
    times = [result.duration_s]
    for run in result.runs:
        times += [run.started_at, run.ended_at or 0.0]
    for fault in result.faults:
        times += [fault.at, fault.healed_at or 0.0]
    return max(times) or 1.0


def timeline_png(result: ResilienceResult, *, dpi: int = 100) -> bytes:
    """A PNG of the runs of ``result`` over time, with the fault windows shaded.

    Each run is a bar from ``started_at`` to ``ended_at`` coloured by its state; a run that has
    not ended is hatched and reaches the end of the plot. Each fault shades ``[at, healed_at]``,
    or up to the end when it was never healed.
    """
    frame = runs_frame(result)
    end = _end_of(result)
    start = min([0.0, *frame["started_at"], *(f.at for f in result.faults)])
    height = min(2.0 + 0.28 * max(len(frame), 1), 14.0)
    figure = Figure(figsize=(9.0, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()

    for fault in result.faults:
        axes.axvspan(
            fault.at,
            fault.healed_at if fault.healed_at is not None else end,
            color=_FAULT_COLOUR,
            alpha=0.15,
            linewidth=0,
        )
        axes.axvline(fault.at, color=_FAULT_COLOUR, linewidth=0.8, linestyle="--")

    states = [str(state) for state in frame["state"]]
    if len(frame):
        finished = frame["finished"].tolist()
        stops = frame["ended_at"].fillna(end)
        axes.barh(
            range(len(frame)),
            # A run that took no time (virtual clock) still gets a sliver, or it would vanish.
            (stops - frame["started_at"]).clip(lower=(end - start) * _MIN_BAR).tolist(),
            left=frame["started_at"].tolist(),
            height=0.6,
            color=[STATE_COLOURS.get(s, _OTHER_COLOUR) for s in states],
            hatch=[None if done else "//" for done in finished],
            edgecolor="white",
            linewidth=0.5,
        )
        axes.set_ylim(len(frame) - 0.5, -0.5)  # the first run on top
        if len(frame) <= _MAX_LABELLED_RUNS:
            axes.set_yticks(range(len(frame)), [_plain(str(r)) for r in frame["run_id"]])
        else:
            axes.set_yticks([])
        axes.set_ylabel(f"runs ({len(frame)})")
    else:
        axes.set_yticks([])
        axes.text(0.5, 0.5, "no runs recorded", transform=axes.transAxes, ha="center")

    axes.set_xlim(start, end * 1.02)
    axes.set_xlabel("seconds since the scenario started")
    axes.set_title(_plain(f"Runs over time: {result.scenario} (seed {result.seed}, {result.mode})"))
    handles = [
        Patch(color=STATE_COLOURS.get(s, _OTHER_COLOUR), label=_plain(s))
        for s in sorted(set(states))
    ]
    if result.faults:
        handles.append(Patch(color=_FAULT_COLOUR, alpha=0.15, label="fault window"))
    if handles:
        axes.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # A name in a script the bundled font lacks draws as a box; a warning would abort the
        # report under warnings-as-errors for no gain.
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from", category=UserWarning)
        figure.savefig(buffer, format="png")
    return buffer.getvalue()

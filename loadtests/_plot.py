"""The load plot: throughput and users, and end-to-end latency, per second, fault windows shaded.

Drawn with matplotlib's object API on an Agg canvas (``Figure`` + ``FigureCanvasAgg``), never
through pyplot, so it renders the same PNG in any process without touching global state (as
``reports``' timeline does). matplotlib is imported when a plot is drawn, not with the package.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

_FAULT_COLOUR = "#d32f2f"


def load_png(
    series: pd.DataFrame,
    fault_windows: Sequence[Mapping[str, Any]],
    *,
    title: str = "",
    dpi: int = 90,
) -> bytes:
    """A PNG of the per-second ``series`` (``loadtests.per_second``), windows shaded."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 5), dpi=dpi)
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, sharex=True)
    t = series["t"].astype(float)
    top.step(t, series["submitted"], where="post", label="submitted/s", color="#1565c0")
    top.step(t, series["completed"], where="post", label="completed/s", color="#2e7d32")
    top.step(t, series["errors"], where="post", label="errors/s", color="#c62828")
    top.set_ylabel("runs per second")
    users = top.twinx()
    users.plot(t, series["users"], color="#757575", linestyle="--", label="users")
    users.set_ylabel("users")
    users.set_ylim(bottom=0)
    handles = top.get_legend_handles_labels()[0] + users.get_legend_handles_labels()[0]
    # Above the axes, so it never hides the lines it names.
    top.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        fontsize="small",
        ncols=4,
        frameon=False,
    )
    for column, colour in (("e2e_p50_ms", "#2e7d32"), ("e2e_p99_ms", "#ef6c00")):
        values = series[column].astype(float)
        bottom.plot(t, values, marker=".", label=column.replace("_ms", " (ms)"), color=colour)
    bottom.set_ylabel("end-to-end latency (ms)")
    bottom.set_xlabel("seconds since the load began")
    bottom.legend(loc="upper left", fontsize="small")
    for axes in (top, bottom):
        for window in fault_windows:
            start, end = float(window["start_s"]), float(window["end_s"])
            label = f"{window['action']} on {window['target']}"
            axes.axvspan(start, max(end, start + 0.2), color=_FAULT_COLOUR, alpha=0.15)
            if axes is bottom:
                axes.annotate(
                    label,
                    (start, 0.98),
                    xycoords=("data", "axes fraction"),
                    xytext=(2, 0),
                    textcoords="offset points",
                    fontsize="x-small",
                    color=_FAULT_COLOUR,
                    va="top",
                )
        axes.grid(alpha=0.3)
    if title:
        figure.suptitle(title.replace("$", r"\$"), fontsize="medium")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()

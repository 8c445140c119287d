"""Large tables beside a result document, as Parquet: events, effects, load samples.

A result document keeps what a report shows (summaries, the anomalies' event excerpts, one run's
timeline, the load's per-second series); the whole history can be far larger, so it goes to
Parquet files next to ``result.json`` and the document names them in ``artifacts``. Read them
back with :func:`read_history` (pandas + pyarrow).
"""

from __future__ import annotations

from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Final

import pandas as pd

from ._errors import ReportError
from ._schema import ResilienceResult

HISTORY_FILES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "events": "events.parquet",
        "effects": "effects.parquet",
        "load_series": "load-series.parquet",
    }
)
"""Each table a result may carry beside it, and its file name."""


def history_tables(
    result: ResilienceResult, tables: Mapping[str, pd.DataFrame] | None
) -> dict[str, pd.DataFrame]:
    """The tables to write beside ``result``: those given, plus its load series if it has one."""
    chosen = dict(tables or {})
    unknown = sorted(set(chosen) - set(HISTORY_FILES))
    if unknown:
        raise ReportError(
            f"write_reports got history tables {unknown!r}, which it has no file for. "
            f"The tables are {', '.join(map(repr, HISTORY_FILES))}."
        )
    if result.load is not None and result.load.series and "load_series" not in chosen:
        chosen["load_series"] = pd.DataFrame([s.model_dump() for s in result.load.series])
    return chosen


def write_history(tables: Mapping[str, pd.DataFrame], folder: Path) -> dict[str, str]:
    """Write each table to its Parquet file in ``folder``; return name -> file name."""
    written = {}
    for name, frame in tables.items():
        file_name = HISTORY_FILES[name]
        frame.to_parquet(folder / file_name, engine="pyarrow", index=False)
        written[name] = file_name
    return written


def read_history(result_path: str | PathLike[str], name: str) -> pd.DataFrame:
    """The table ``name`` (``events``, ``effects``, ``load_series``) written beside a result.

    ``result_path`` is the result.json (or its folder); the table must be in its ``artifacts``.
    """
    from ._schema import load_result

    path = Path(result_path)
    folder = path if path.is_dir() else path.parent
    result = load_result(path)
    if name not in result.artifacts:
        present = ", ".join(map(repr, result.artifacts)) or "none"
        raise ReportError(
            f"The result in {str(folder)!r} has no {name!r} table beside it (artifacts: "
            f"{present}). Write it with write_reports(..., history={{{name!r}: frame}})."
        )
    file = folder / result.artifacts[name]
    if not file.is_file():
        raise ReportError(
            f"The result names {name!r} in {str(file)!r}, which is missing. Copy the Parquet "
            "files together with result.json."
        )
    return pd.read_parquet(file, engine="pyarrow")

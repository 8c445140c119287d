"""Writing the reports of one result into a folder, or of a suite of results with an index page."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Final

import pandas as pd

from ._baseline import Comparison, Tolerances, compare
from ._errors import ReportError
from ._history import HISTORY_FILES, history_tables, write_history
from ._index import render_index_html, render_index_markdown
from ._render_html import render_html
from ._render_junit import render_junit, render_junit_suite
from ._render_markdown import render_markdown
from ._schema import ResilienceResult

REPORT_FORMATS: Final[Mapping[str, str]] = MappingProxyType(
    {"json": "result.json", "md": "report.md", "html": "report.html", "junit": "junit.xml"}
)
"""Each format :func:`write_reports` knows, and the file name it writes it to."""

_Renderer = Callable[[ResilienceResult, Comparison | None], str]

_RENDERERS: Final[Mapping[str, _Renderer]] = {
    "json": lambda result, _comparison: result.dumps() + "\n",
    "md": lambda result, comparison: render_markdown(result, comparison=comparison),
    "html": lambda result, comparison: render_html(result, comparison=comparison),
    "junit": lambda result, comparison: render_junit(result, comparison=comparison),
}


def formats_asked(formats: Iterable[str]) -> list[str]:
    """``formats`` checked and without repeats, in the order given."""
    valid = ", ".join(repr(f) for f in REPORT_FORMATS)
    if isinstance(formats, str):
        raise ReportError(
            f"write_reports got formats={formats!r}, one string rather than a collection of "
            f"formats. Pass a tuple, e.g. formats=({formats!r},); the formats are {valid}."
        )
    asked = list(dict.fromkeys(formats))  # keeps order, drops repeats
    for name in asked:
        if name not in REPORT_FORMATS:
            raise ReportError(
                f"write_reports got format={name!r}, which it cannot write. "
                f"The formats are {valid}."
            )
    if not asked:
        raise ReportError(
            f"write_reports got formats=(), so there is nothing to write. Name at least one "
            f"of {valid}."
        )
    return asked


def _carried_artifacts(result: ResilienceResult, source: Path | None) -> dict[str, Path]:
    # Tables a result read from elsewhere names: copied along when they exist, else dropped.
    if source is None:
        return {}
    return {
        name: source / file for name, file in result.artifacts.items() if (source / file).is_file()
    }


def write_reports(
    result: ResilienceResult,
    out_dir: str | PathLike[str],
    formats: Iterable[str] = ("json", "md", "html", "junit"),
    *,
    baseline: ResilienceResult | None = None,
    tolerances: Tolerances | None = None,
    history: Mapping[str, pd.DataFrame] | None = None,
    artifacts_from: str | PathLike[str] | None = None,
) -> dict[str, Path]:
    """Write the reports of ``result`` in ``formats`` into ``out_dir``; return paths by format.

    The files are ``result.json``, ``report.md``, ``report.html`` and ``junit.xml`` (see
    :data:`REPORT_FORMATS`). With ``baseline`` (of the same scenario; see :func:`compare`), the
    Markdown, HTML and JUnit reports include the comparison. With ``json``, the ``history``
    tables (``events``, ``effects``; a load series always) go to Parquet beside it (see
    ``HISTORY_FILES``) and ``result.json`` names them in ``artifacts``; ``artifacts_from`` is the
    folder of a result read from disk, whose tables are copied along. Every report is rendered
    before any file is written, so a failure leaves no partial set.
    """
    asked = formats_asked(formats)
    comparison = compare(result, baseline, tolerances) if baseline is not None else None
    folder = Path(out_dir)
    tables = history_tables(result, history) if "json" in asked else {}
    source = Path(artifacts_from) if artifacts_from is not None else None
    carried = _carried_artifacts(result, source) if "json" in asked else {}
    carried = {name: path for name, path in carried.items() if name not in tables}
    artifacts = {name: HISTORY_FILES[name] for name in tables}
    artifacts |= {name: path.name for name, path in carried.items()}
    if "json" in asked:
        result = result.model_copy(update={"artifacts": dict(sorted(artifacts.items()))})
    rendered = {name: _RENDERERS[name](result, comparison) for name in asked}
    folder.mkdir(parents=True, exist_ok=True)
    write_history(tables, folder)
    for path in carried.values():
        if path.resolve() != (folder / path.name).resolve():
            shutil.copyfile(path, folder / path.name)
    paths = {}
    for name, text in rendered.items():
        path = folder / REPORT_FORMATS[name]
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths


@dataclass(frozen=True)
class SuiteReport:
    """What :func:`write_suite` wrote: the index files, each result's folder and comparison."""

    paths: dict[str, Path]
    folders: tuple[Path, ...]
    comparisons: tuple[Comparison | None, ...]

    @property
    def regressed(self) -> bool:
        """Whether any result regressed against its baseline."""
        return any(c is not None and c.regressed for c in self.comparisons)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:60] or "scenario"


def baselines_by_scenario(
    results: Sequence[ResilienceResult], baselines: Sequence[ResilienceResult]
) -> dict[str, ResilienceResult]:
    """Each baseline under its scenario; refused when two share one or one matches no result."""
    chosen: dict[str, ResilienceResult] = {}
    names = {r.scenario for r in results}
    for baseline in baselines:
        if baseline.scenario in chosen:
            raise ReportError(
                f"Two baselines are of scenario {baseline.scenario!r}; pass one per scenario."
            )
        if baseline.scenario not in names:
            raise ReportError(
                f"The baseline of scenario {baseline.scenario!r} matches none of the results "
                f"({', '.join(sorted(map(repr, names)))}): a baseline says nothing about another "
                "scenario. Pass the baseline of a scenario among the results."
            )
        chosen[baseline.scenario] = baseline
    return chosen


def write_suite(
    results: Sequence[ResilienceResult],
    out_dir: str | PathLike[str],
    formats: Iterable[str] = ("json", "md", "html", "junit"),
    *,
    baselines: Sequence[ResilienceResult] = (),
    tolerances: Tolerances | None = None,
    title: str = "suite",
    artifacts_from: Sequence[str | PathLike[str] | None] = (),
) -> SuiteReport:
    """Write each result's reports into ``out_dir/NN-scenario/`` and an index of them all.

    The index is ``index.html`` (with ``html``) and ``index.md`` (with ``md``); with ``junit``
    one ``junit.xml`` holds a test suite per result. Each result is compared with the baseline
    of its scenario, if one is given (see :func:`baselines_by_scenario`).
    """
    asked = formats_asked(formats)
    if not results:
        raise ReportError("write_suite got no results; pass at least one.")
    chosen = baselines_by_scenario(results, baselines)
    folder = Path(out_dir)
    sources = list(artifacts_from) + [None] * (len(results) - len(artifacts_from))
    folders, comparisons = [], []
    for index, (result, source) in enumerate(zip(results, sources, strict=False)):
        target = folder / f"{index + 1:02d}-{_slug(result.scenario)}"
        baseline = chosen.get(result.scenario)
        comparisons.append(compare(result, baseline, tolerances) if baseline else None)
        per_result = [f for f in asked if f != "junit"] or ["json"]
        write_reports(
            result,
            target,
            per_result,
            baseline=baseline,
            tolerances=tolerances,
            artifacts_from=source,
        )
        folders.append(target)
    entries = [
        (result, comparison, f"{target.name}/report.html" if "html" in asked else None)
        for result, comparison, target in zip(results, comparisons, folders, strict=True)
    ]
    paths: dict[str, Path] = {}
    if "html" in asked:
        paths["html"] = folder / "index.html"
        paths["html"].write_text(render_index_html(entries, title=title), encoding="utf-8")
    if "md" in asked:
        paths["md"] = folder / "index.md"
        paths["md"].write_text(render_index_markdown(entries, title=title), encoding="utf-8")
    if "junit" in asked:
        paths["junit"] = folder / "junit.xml"
        suite = render_junit_suite(zip(results, comparisons, strict=True), name=title)
        paths["junit"].write_text(suite, encoding="utf-8")
    return SuiteReport(paths, tuple(folders), tuple(comparisons))

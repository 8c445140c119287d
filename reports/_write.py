"""Writing every report of a result into one folder."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Final

from ._baseline import Comparison, compare
from ._errors import ReportError
from ._render_html import render_html
from ._render_junit import render_junit
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


def _formats_asked(formats: Iterable[str]) -> list[str]:
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


def write_reports(
    result: ResilienceResult,
    out_dir: str | PathLike[str],
    formats: Iterable[str] = ("json", "md", "html", "junit"),
    *,
    baseline: ResilienceResult | None = None,
) -> dict[str, Path]:
    """Write the reports of ``result`` in ``formats`` into ``out_dir``; return paths by format.

    ``out_dir`` is created if needed. The files are ``result.json``, ``report.md``,
    ``report.html`` and ``junit.xml`` (see :data:`REPORT_FORMATS`). With ``baseline``, the
    Markdown, HTML and JUnit reports include the comparison with it (see :func:`compare`).
    Every report is rendered before any file is written, so a failure leaves no partial set.
    """
    asked = _formats_asked(formats)
    comparison = compare(result, baseline) if baseline is not None else None
    rendered = {name: _RENDERERS[name](result, comparison) for name in asked}
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, text in rendered.items():
        path = folder / REPORT_FORMATS[name]
        path.write_text(text, encoding="utf-8")
        paths[name] = path
    return paths

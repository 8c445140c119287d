"""The index of a suite of results: one row per result, worst first in the headline."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from . import _display as display
from ._baseline import Comparison
from ._render_html import CSP, environment, stylesheet
from ._render_markdown import code, text
from ._schema import SCHEMA, ResilienceResult

IndexEntry = tuple[ResilienceResult, Comparison | None, str | None]
"""A result, its comparison with a baseline (or None), and the link to its report (or None)."""

_SEVERITY = {"valid": 0, "unknown": 1, "invalid": 2, "error": 3}


def _verdict(entries: Sequence[IndexEntry]) -> str:
    # An error anywhere means the suite did not finish: it outranks every verdict here.
    return max((r.verdict for r, _, _ in entries), key=_SEVERITY.__getitem__, default="unknown")


def _baseline_cell(comparison: Comparison | None) -> str:
    if comparison is None:
        return "no baseline"
    return "regressed" if comparison.regressed else "no regression"


def _counts(entries: Sequence[IndexEntry]) -> str:
    by_verdict = Counter(r.verdict for r, _, _ in entries)
    return f"{len(entries)} results: " + display.counts(dict(sorted(by_verdict.items())))


def _regressions(entries: Sequence[IndexEntry]) -> str:
    worse = [r.scenario for r, c, _ in entries if c is not None and c.regressed]
    return f"Regressed against the baseline: {', '.join(worse)}." if worse else ""


def render_index_html(entries: Sequence[IndexEntry], *, title: str = "suite") -> str:
    """The HTML index page of a suite: verdict, score, anomalies and a link per result."""
    rows = [
        {
            "scenario": display.clip(result.scenario, display.NAME_LIMIT),
            "verdict": result.verdict,
            "score": display.score(result.score),
            "anomalies": len(result.anomalies),
            "runs": len(result.runs),
            "baseline": _baseline_cell(comparison),
            "link": link,
        }
        for result, comparison, link in entries
    ]
    template = environment().get_template("index.html.j2")
    page = template.render(
        csp=CSP,
        css=stylesheet(),
        title=display.clip(title, display.NAME_LIMIT),
        verdict=_verdict(entries),
        counts=_counts(entries),
        regressions=_regressions(entries),
        rows=rows,
        schema=SCHEMA,
    )
    return page + "\n"


def render_index_markdown(entries: Sequence[IndexEntry], *, title: str = "suite") -> str:
    """The Markdown index of a suite, verdict first, for a CI job summary."""
    verdict = _verdict(entries).upper()
    lines = [
        f"# {verdict}: resilience reports for {text(title, 100)}",
        "",
        f"**Verdict: {verdict}** | {_counts(entries)}",
        "",
    ]
    if _regressions(entries):
        lines += [f"**{text(_regressions(entries))}**", ""]
    lines += [
        "| scenario | verdict | score | anomalies | baseline | report |",
        "|---|---|---|---|---|---|",
    ]
    for result, comparison, link in entries:
        target = code(link, in_table=True) if link else "not rendered"
        lines.append(
            f"| {text(result.scenario, 100)} | {result.verdict} | {display.score(result.score)} "
            f"| {len(result.anomalies)} | {_baseline_cell(comparison)} | {target} |"
        )
    return "\n".join(lines) + "\n"

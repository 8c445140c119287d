"""The HTML report: one self-contained page, with inline CSS and the timeline as a PNG data URI.

Nothing on the page loads from anywhere else, so it can be archived as a CI artifact and opened
offline. Every string from the result goes through :func:`html.escape`, and a Content Security
Policy forbids scripts, so a hostile scenario name shows as text.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape

from . import _display as display
from ._analysis import summary
from ._baseline import Comparison
from ._schema import ResilienceResult
from ._score import resilience_score
from ._timeline import timeline_png

_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d1d1f;
       margin: 0; background: #f6f7f9; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; background: #fff; }
h1 { font-size: 1.6em; margin: 0 0 8px; word-break: break-word; }
h2 { font-size: 1.2em; margin: 28px 0 8px; border-bottom: 1px solid #e3e5e8; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; font-size: 0.92em; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid #eceef1;
         vertical-align: top; word-break: break-word; }
th { background: #f3f4f6; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
pre { background: #f3f4f6; padding: 8px 12px; overflow-x: auto; }
.headline { display: flex; gap: 16px; align-items: center; flex-wrap: wrap; }
.verdict { font-weight: 700; padding: 4px 12px; border-radius: 4px; color: #fff; }
.verdict-valid { background: #2e7d32; } .verdict-invalid { background: #c62828; }
.verdict-unknown { background: #6d6d6d; }
.score { font-size: 1.1em; }
.regressed { color: #c62828; font-weight: 700; } .steady { color: #2e7d32; font-weight: 700; }
img { max-width: 100%; height: auto; }
footer { margin-top: 32px; color: #6d6d6d; font-size: 0.85em; }
"""

# Self-contained by construction: no script, no remote anything; images only as data URIs.
_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _cell(value: str, *, code: bool = False) -> str:
    text = escape(value)
    return f"<td><code>{text}</code></td>" if code and value else f"<td>{text}</td>"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """``rows`` hold cells already rendered as ``<td>`` elements."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(f"<tr>{''.join(row)}</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plain_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    return _table(header, ([_cell(c) for c in row] for row in rows))


def _timeline(result: ResilienceResult) -> str:
    png = base64.b64encode(timeline_png(result)).decode("ascii")
    alt = f"Timeline of {len(result.runs)} runs and {len(result.faults)} fault windows"
    return (
        f'<figure><img alt="{escape(alt)}" src="data:image/png;base64,{png}">'
        "<figcaption>Runs as bars from start to end, coloured by state; hatched bars had not "
        "ended. Shaded spans are fault windows, from injection to heal.</figcaption></figure>"
    )


def _checkers(result: ResilienceResult) -> str:
    if not result.checkers:
        return "<p>No checker ran, so the verdict is unknown.</p>"
    return _table(
        ("checker", "verdict", "anomalies", "note"),
        (
            [
                _cell(c.name, code=True),
                f'<td><span class="verdict verdict-{escape(c.verdict)}">'
                f"{escape(c.verdict)}</span></td>",
                _cell(str(len(c.anomalies))),
                _cell(c.note),
            ]
            for c in result.checkers
        ),
    )


def _anomalies(result: ResilienceResult) -> str:
    rows = [
        [
            _cell(anomaly.kind, code=True),
            _cell(checker.name, code=True),
            _cell(anomaly.run_id, code=True),
            _cell(", ".join(anomaly.steps), code=True),
            _cell(", ".join(map(str, anomaly.event_seqs))),
            _cell(anomaly.replay_token or "", code=True),
            _cell(anomaly.detail),
        ]
        for checker in result.checkers
        for anomaly in checker.anomalies
    ]
    if not rows:
        return "<p>None found.</p>"
    header = ("kind", "checker", "run", "steps", "event seqs", "replay token", "detail")
    return _table(header, rows)


def _faults(result: ResilienceResult) -> str:
    if not result.faults:
        return "<p>No fault was injected.</p>"
    return _table(
        ("kind", "target", "at", "healed at", "detail"),
        (
            [
                _cell(f.kind, code=True),
                _cell(f.target, code=True),
                _cell(display.seconds(f.at)),
                _cell(display.seconds(f.healed_at) if f.healed_at is not None else "not healed"),
                _cell(f.detail),
            ]
            for f in result.faults
        ),
    )


def _comparison(comparison: Comparison) -> str:
    css = "regressed" if comparison.regressed else "steady"
    headline = escape(display.comparison_headline(comparison))
    table = _plain_table(
        ("", "baseline", "this run", "change"), display.comparison_rows(comparison)
    )
    return f'<h2>Compared with the baseline</h2><p class="{css}">{headline}</p>{table}'


def render_html(result: ResilienceResult, *, comparison: Comparison | None = None) -> str:
    """The HTML report of ``result`` as one self-contained page (inline CSS, embedded PNG)."""
    verdict = escape(result.verdict)
    scenario = escape(result.scenario)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Resilience report: {scenario}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Resilience report: {scenario}</h1>",
        '<div class="headline">',
        f'<span class="verdict verdict-{verdict}">{verdict.upper()}</span>',
        f'<span class="score">resilience score '
        f"<strong>{display.score(resilience_score(result))}</strong> / 100</span></div>",
        _plain_table(("", ""), display.about_rows(result)),
    ]
    if result.replay_command:
        parts.append(f"<h2>Replay</h2><pre><code>{escape(result.replay_command)}</code></pre>")
    if comparison is not None:
        parts.append(_comparison(comparison))
    parts += [
        "<h2>Timeline</h2>",
        _timeline(result),
        "<h2>Summary</h2>",
        _plain_table(("metric", "value"), display.summary_rows(summary(result))),
        "<h2>Checkers</h2>",
        _checkers(result),
        "<h2>Anomalies</h2>",
        _anomalies(result),
        "<h2>Faults</h2>",
        _faults(result),
        f"<footer>chaosflow resilience report, result schema version "
        f"{result.schema_version}</footer>",
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"

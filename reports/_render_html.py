"""The HTML report: one self-contained page from a Jinja2 template with autoescaping.

The renderer turns a result into plain strings (formatted and clipped by ``_display``) and the
template escapes every one, so a hostile scenario name, input or error message shows as text.
Nothing on the page loads from anywhere else: the CSS is inline, the plots are PNG data URIs, and
a Content Security Policy forbids scripts and every remote source, so the page can be archived
as a CI artifact and read offline, without a script.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any, Final

from jinja2 import Environment, PackageLoader, StrictUndefined

from . import _display as display
from . import _plots as plots
from ._analysis import summary
from ._baseline import Comparison
from ._model import EventRecord
from ._schema import ResilienceResult

# Self-contained by construction: no script, no remote anything; images only as data URIs.
CSP: Final = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
_EVENT_DETAIL_LIMIT: Final = 160
MAX_ANOMALY_DETAILS: Final = 50
"""The page lists every anomaly in its table, and the details (events) of the first 50."""


@cache
def environment() -> Environment:
    """The template environment: the package's templates, autoescaped, strict on typos."""
    return Environment(
        loader=PackageLoader("reports", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def stylesheet() -> str:
    """The report's CSS, inlined into every page."""
    return resources.files("reports").joinpath("templates/style.css").read_text(encoding="utf-8")


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def event_rows(events: Sequence[EventRecord]) -> list[tuple[str, ...]]:
    """The table rows of some events: seq, time, step, kind, attempt, worker, detail."""
    return [
        (
            str(e.seq),
            display.seconds(e.t),
            display.clip(e.step or "", display.NAME_LIMIT),
            e.kind,
            str(e.attempt),
            display.clip(e.worker_id or "", display.NAME_LIMIT),
            display.clip(json.dumps(e.detail, ensure_ascii=False, default=str), _EVENT_DETAIL_LIMIT)
            if e.detail
            else "",
        )
        for e in events
    ]


def _plots(result: ResilienceResult) -> list[dict[str, str]]:
    specs = [
        (
            "load",
            plots.load_png,
            "Throughput and end-to-end latency percentiles over time",
            "Per second of the load run: runs submitted, completed and errors, and the p50, p95 "
            "and p99 end-to-end latency. Shaded spans are fault windows; a solid red line is a "
            "fault that struck at an instant.",
        ),
        (
            "runs",
            plots.runs_png,
            f"Timeline of {len(result.runs)} runs and {len(result.faults)} faults",
            "Each run is a bar from submission to its end, coloured by outcome; hatched bars had "
            "not ended. Shaded spans are fault windows; a solid red line (labelled with its kind) "
            "is a fault that struck at an instant, such as a crash.",
        ),
        (
            "steps",
            plots.steps_png,
            "Retries, failures and compensations per step",
            "Counted over every run: retries are claims beyond a run's first (after an error, or "
            "a reclaim after a crash); compensations are undos that completed.",
        ),
        (
            "events",
            plots.run_events_png,
            "Events of one run in log order",
            "The run singled out below: one lane per step, one marker per event, in the order "
            "the log holds them; a red line marks where a fault struck it.",
        ),
    ]
    found = []
    for plot_id, draw, alt, caption in specs:
        png = draw(result)
        if png is not None:
            found.append({"id": plot_id, "src": _data_uri(png), "alt": alt, "caption": caption})
    return found


def _anomalies(result: ResilienceResult) -> list[dict[str, Any]]:
    rows = []
    for number, anomaly in enumerate(result.anomalies, start=1):
        token = anomaly.replay_token or ""
        rows.append(
            {
                "number": number,
                "kind": anomaly.kind,
                "case": display.case_label(result, anomaly.case),
                "run_id": display.clip(anomaly.run_id, display.NAME_LIMIT),
                "steps": display.clip(", ".join(anomaly.steps), display.NAME_LIMIT) or "none",
                "token": token,
                "token_preview": display.token_preview(token),
                "replay_command": anomaly.replay_command,
                "detail": display.clip(anomaly.detail),
                "events": event_rows(anomaly.events),
            }
        )
    return rows


def _faults(result: ResilienceResult) -> tuple[tuple[str, ...], list[tuple[str, ...]]]:
    several = len(result.cases) > 1
    header = ("kind", "target", *(("case",) if several else ()), "struck", "healed", "detail")
    rows = []
    for fault in result.faults:
        healed = {
            "point": "at once (an instant)",
            "open": "never healed",
            "window": display.seconds(fault.end_s),
        }[fault.shape]
        rows.append(
            (
                fault.kind,
                display.clip(fault.target, display.NAME_LIMIT),
                *((display.case_label(result, fault.case),) if several else ()),
                display.seconds(fault.start_s),
                healed,
                display.clip(fault.detail),
            )
        )
    return header, rows


def _context(result: ResilienceResult, comparison: Comparison | None) -> dict[str, Any]:
    several = len(result.cases) > 1
    header, faults = _faults(result)
    failing = next((c for c in result.cases if c.verdict == "invalid" and c.replay_command), None)
    timeline = result.timeline
    return {
        "csp": CSP,
        "css": stylesheet(),
        "scenario": display.clip(result.scenario, display.NAME_LIMIT),
        "verdict": result.verdict,
        "score": display.score(result.score),
        "score_note": "no score: the harness failed"
        if result.score is None
        else "valid 60..100 · unknown 30..50 · invalid 0..25 (docs/reports.md)",
        "error": None
        if result.error is None
        else {
            "kind": result.error.kind,
            "during": result.error.during,
            "message": display.clip(result.error.message, 2000),
        },
        "comparison": None
        if comparison is None
        else {
            "regressed": comparison.regressed,
            "headline": display.comparison_headline(comparison),
            "rows": display.comparison_rows(comparison),
        },
        "replay_command": result.replay_command,
        "replay_note": f"Reruns the first failing case ({failing.id})."
        if failing and result.replay_command == failing.replay_command
        else "Reruns this scenario.",
        "about": display.about_rows(result),
        "invariants": [
            {"name": i.name, "verdict": i.verdict, "count": len(i.anomalies), "note": i.note}
            for i in result.invariants
        ],
        "load": None
        if result.load is None
        else {
            "rows": display.load_rows(result.load),
            "thresholds": display.threshold_rows(result.load),
            "recovery": display.recovery_rows(result.load),
        },
        "plots": _plots(result),
        "anomalies": _anomalies(result),
        "details_left": max(len(result.anomalies) - MAX_ANOMALY_DETAILS, 0),
        "max_details": MAX_ANOMALY_DETAILS,
        "several_cases": several,
        "cases": [
            {
                "id": c.id,
                "description": display.clip(c.description),
                "verdict": c.verdict,
                "token": c.replay_token or "",
                "token_preview": display.token_preview(c.replay_token or ""),
            }
            for c in result.cases
        ]
        if several
        else [],
        "timeline": None
        if timeline is None
        else {
            "run_id": timeline.run_id,
            "case": display.case_label(result, timeline.case) if several else "",
            "reason": display.clip(timeline.reason),
            "events": event_rows(timeline.events),
            "omitted": timeline.omitted,
        },
        "summary": display.summary_rows(summary(result)),
        "steps": [
            (
                display.clip(s.step, display.NAME_LIMIT),
                *(str(getattr(s, n)) for n in ("runs", "attempts", "retries", "failures")),
                str(s.compensations),
                str(s.compensation_failures),
            )
            for s in result.steps
        ],
        "fault_header": header,
        "faults": faults,
        "schema": result.schema_id,
        "artifacts": ", ".join(sorted(result.artifacts.values())),
    }


def render_html(result: ResilienceResult, *, comparison: Comparison | None = None) -> str:
    """The HTML report of ``result`` as one self-contained page (inline CSS, embedded PNGs)."""
    template = environment().get_template("report.html.j2")
    return template.render(_context(result, comparison)) + "\n"

"""chaosflow's reports: the versioned result of a chaos run, its analysis, score and renderings.

A scenario run ends in a :class:`ResilienceResult`: the checkers' verdicts with the anomalies
they found (each with a replay token), the runs, and the faults injected. This package owns that
schema (``SCHEMA_VERSION``, JSON round trip, :func:`load_result`), analyses it with pandas
(:func:`runs_frame`, :func:`summary`), scores it (:func:`resilience_score`), compares it with a
baseline (:func:`compare`) and renders it as Markdown, a self-contained HTML page, JUnit XML and
JSON (:func:`write_reports`).

Reports imports no other chaosflow package: it reads the result schema and nothing else, so a
result file can be rendered anywhere. Every error it raises on purpose is a :class:`ReportError`.
"""

from ._analysis import RUN_FRAME_STEPS, FrameStep, Summary, runs_frame, summary
from ._baseline import Comparison, compare
from ._errors import ReportError, ResultSchemaError
from ._render_html import render_html
from ._render_junit import render_junit
from ._render_markdown import render_markdown
from ._schema import (
    ANOMALY_KINDS,
    GOOD_RUN_STATES,
    MODES,
    SCHEMA_VERSION,
    VERDICTS,
    Anomaly,
    CheckerResult,
    FaultRecord,
    ResilienceResult,
    RunRecord,
    load_result,
    merge_verdicts,
)
from ._score import CHECKER_POINTS, resilience_score
from ._timeline import timeline_png
from ._write import REPORT_FORMATS, write_reports

__all__ = [
    "ANOMALY_KINDS",
    "Anomaly",
    "CHECKER_POINTS",
    "CheckerResult",
    "Comparison",
    "FaultRecord",
    "FrameStep",
    "GOOD_RUN_STATES",
    "MODES",
    "REPORT_FORMATS",
    "RUN_FRAME_STEPS",
    "ReportError",
    "ResilienceResult",
    "ResultSchemaError",
    "RunRecord",
    "SCHEMA_VERSION",
    "Summary",
    "VERDICTS",
    "compare",
    "load_result",
    "merge_verdicts",
    "render_html",
    "render_junit",
    "render_markdown",
    "resilience_score",
    "runs_frame",
    "summary",
    "timeline_png",
    "write_reports",
]

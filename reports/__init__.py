"""chaosflow's reports: the versioned result document, its analysis, score and renderings.

A scenario (or load) run ends in a :class:`ResilienceResult`, the document ``"schema":
"chaosflow-report/1"``: a top-level ``verdict`` and ``score``, the configuration and seed, one
verdict per invariant with every anomaly and the command that replays it, the cases, runs,
per-step counts, the fault timeline, the ``load`` section, and an ``error`` when the harness could
not finish. It is one pydantic model (:func:`result_json_schema` is its published JSON Schema),
built with :func:`build_result` and read with :func:`load_result`, which also upgrades documents
of the older ``schema_version: 1``. Large histories go to Parquet beside it (:func:`read_history`).

This package analyses a result with pandas (:func:`runs_frame`, :func:`step_stats`,
:func:`load_frame`, :func:`summary`), scores it (:func:`score_parts`; an invalid result always
scores below a valid one), compares it with a baseline (:func:`compare`) and renders it as
Markdown, a self-contained HTML page with plots, JUnit XML and JSON (:func:`write_reports`; a
suite of results with an index page: :func:`write_suite`).

Reports imports no other chaosflow package: it reads the result document and nothing else, so a
result file can be rendered anywhere. Every error it raises on purpose is a :class:`ReportError`.
"""

from ._analysis import (
    EVENT_COLUMNS,
    RUN_FRAME_STEPS,
    FrameStep,
    Summary,
    events_frame,
    faults_frame,
    load_frame,
    run_stats,
    runs_frame,
    step_stats,
    summary,
)
from ._baseline import Comparison, Tolerances, compare
from ._errors import ReportError, ResultSchemaError
from ._history import HISTORY_FILES, read_history
from ._index import render_index_html, render_index_markdown
from ._load_model import (
    Distributed,
    FaultWindow,
    LoadProfile,
    LoadSample,
    LoadSection,
    LoadSummary,
    Percentiles,
    Recovery,
    Threshold,
)
from ._model import (
    ANOMALY_KINDS,
    FAULT_SHAPES,
    MODES,
    RESULT_VERDICTS,
    RUN_OUTCOMES,
    VERDICTS,
    Anomaly,
    Budget,
    CaseRecord,
    EventRecord,
    FaultRecord,
    HarnessError,
    InvariantResult,
    RunRecord,
    RunTimeline,
    ScenarioConfig,
    StepStats,
    fault_shape,
)
from ._plots import load_png, run_events_png, runs_png, steps_png
from ._render_html import render_html
from ._render_junit import render_junit, render_junit_suite
from ._render_markdown import render_markdown
from ._schema import (
    SCHEMA,
    ResilienceResult,
    build_result,
    load_result,
    merge_verdicts,
    resilience_score,
    result_json_schema,
)
from ._schema_docs import SCHEMA_FILES, field_reference, json_schema_text, write_schema_files
from ._score import (
    INVARIANT_POINTS,
    RECOVERY_TARGET_S,
    SCORE_BANDS,
    SCORE_WEIGHTS,
    ScoreParts,
    score_parts,
)
from ._write import REPORT_FORMATS, SuiteReport, baselines_by_scenario, write_reports, write_suite

__all__ = [
    "ANOMALY_KINDS",
    "Anomaly",
    "Budget",
    "CaseRecord",
    "Comparison",
    "Distributed",
    "EVENT_COLUMNS",
    "EventRecord",
    "FAULT_SHAPES",
    "FaultRecord",
    "FaultWindow",
    "FrameStep",
    "HISTORY_FILES",
    "HarnessError",
    "INVARIANT_POINTS",
    "InvariantResult",
    "LoadProfile",
    "LoadSample",
    "LoadSection",
    "LoadSummary",
    "MODES",
    "Percentiles",
    "RECOVERY_TARGET_S",
    "REPORT_FORMATS",
    "RESULT_VERDICTS",
    "RUN_FRAME_STEPS",
    "RUN_OUTCOMES",
    "Recovery",
    "ReportError",
    "ResilienceResult",
    "ResultSchemaError",
    "RunRecord",
    "RunTimeline",
    "SCHEMA",
    "SCHEMA_FILES",
    "SCORE_BANDS",
    "SCORE_WEIGHTS",
    "ScenarioConfig",
    "ScoreParts",
    "StepStats",
    "SuiteReport",
    "Summary",
    "Threshold",
    "Tolerances",
    "VERDICTS",
    "baselines_by_scenario",
    "build_result",
    "compare",
    "events_frame",
    "fault_shape",
    "faults_frame",
    "field_reference",
    "json_schema_text",
    "load_frame",
    "load_png",
    "load_result",
    "merge_verdicts",
    "read_history",
    "render_html",
    "render_index_html",
    "render_index_markdown",
    "render_junit",
    "render_junit_suite",
    "render_markdown",
    "resilience_score",
    "result_json_schema",
    "run_events_png",
    "run_stats",
    "runs_frame",
    "runs_png",
    "score_parts",
    "step_stats",
    "steps_png",
    "summary",
    "write_reports",
    "write_schema_files",
    "write_suite",
]

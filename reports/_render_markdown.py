"""The Markdown report: short enough for a CI job summary, verdict first.

Order: the verdict and score; why the harness failed, if it did; the regressions against the
baseline, if any; each anomaly with the command that replays it; then the figures (invariants,
summary, load, faults). Long lists stop after a few items and point to the HTML and JSON.

Prose from the result is escaped, so a scenario name or an anomaly's detail cannot inject markup;
identifiers (run ids, steps, commands) go in code spans and blocks, where Markdown takes them
literally.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Final

from . import _display as display
from ._analysis import summary
from ._baseline import Comparison
from ._schema import ResilienceResult

MAX_ANOMALIES: Final = 10
"""The Markdown lists at most this many anomalies; the rest are counted."""
MAX_FAULTS: Final = 20
"""The Markdown lists at most this many faults; the rest are counted."""

# Backslash-escape the ASCII punctuation that starts markup inside a line.
_MARKUP = re.compile(r"([\\`*_\[\]<>|#!~&$])")
_BACKTICKS = re.compile(r"`+")


def text(value: str, limit: int = display.TEXT_LIMIT) -> str:
    """``value`` as inline Markdown text: one line, clipped, markup escaped."""
    return _MARKUP.sub(r"\\\1", display.clip(" ".join(value.split()), limit))


def code(value: str, *, in_table: bool = False, limit: int = display.NAME_LIMIT) -> str:
    """``value`` as a code span whose fence is longer than any run of backticks in it."""
    if not value:
        return "(empty)"
    flat = display.clip(" ".join(value.splitlines()), limit)
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(flat)), default=0) + 1)
    if flat.startswith("`") or flat.endswith("`"):
        flat = f" {flat} "
    if in_table:
        # GitHub splits table cells on '|' even inside code spans, unless it is escaped.
        flat = flat.replace("|", "\\|")
    return f"{fence}{flat}{fence}"


def _code_block(value: str, language: str, indent: str = "") -> list[str]:
    longest = max((len(run) for run in _BACKTICKS.findall(value)), default=0)
    fence = "`" * max(3, longest + 1)
    return [indent + fence + language, indent + " ".join(value.splitlines()), indent + fence]


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _plain_rows(rows: Iterable[Sequence[str]]) -> list[tuple[str, ...]]:
    return [tuple(text(cell) for cell in row) for row in rows]


def _headline(result: ResilienceResult) -> list[str]:
    score = display.score(result.score)
    out_of = "" if result.score is None else " / 100"
    return [
        f"# {result.verdict.upper()}: resilience report for {text(result.scenario, 100)}",
        "",
        f"**Verdict: {result.verdict.upper()}** | resilience score **{score}**{out_of} | "
        f"mode {result.mode} | seed {result.seed} | {len(result.runs)} runs, "
        f"{len(result.faults)} faults, {len(result.anomalies)} anomalies",
        "",
    ]


def _error(result: ResilienceResult) -> list[str]:
    if result.error is None:
        return []
    during = f" during {text(result.error.during)}" if result.error.during else ""
    return [
        f"**The harness could not finish the run** ({code(result.error.kind)}{during}); "
        "there is no verdict on the invariants and no score:",
        "",
        f"> {text(result.error.message, 1000)}",
        "",
    ]


def _comparison(comparison: Comparison) -> list[str]:
    lines = [
        "## Compared with the baseline",
        "",
        f"**{text(display.comparison_headline(comparison))}**",
        "",
    ]
    return lines + _table(
        ("", "baseline", "this run", "change"), _plain_rows(display.comparison_rows(comparison))
    )


def _anomalies(result: ResilienceResult) -> list[str]:
    found = result.anomalies
    if not found:
        return ["## Anomalies", "", "None found.", ""]
    lines = [f"## Anomalies ({len(found)})", ""]
    for number, anomaly in enumerate(found[:MAX_ANOMALIES], start=1):
        case = display.case_label(result, anomaly.case) if len(result.cases) > 1 else ""
        where = f" ({text(case)})" if case else ""
        steps = f" at {', '.join(code(s) for s in anomaly.steps)}" if anomaly.steps else ""
        lines.append(
            f"{number}. {code(anomaly.kind)} in run {code(anomaly.run_id)}{steps}{where}: "
            f"{text(anomaly.detail)}"
        )
        if anomaly.replay_command:
            lines += _code_block(anomaly.replay_command, "sh", indent="   ")
    left = len(found) - MAX_ANOMALIES
    if left > 0:
        lines.append(f"\n... and {left} more anomalies in report.html and result.json.")
    return [*lines, ""]


def _faults(result: ResilienceResult) -> list[str]:
    if not result.faults:
        return ["No fault was injected.", ""]
    several = len(result.cases) > 1
    rows = []
    for fault in result.faults[:MAX_FAULTS]:
        healed = {
            "point": "at once (an instant)",
            "open": "never healed",
            "window": display.seconds(fault.end_s),
        }[fault.shape]
        rows.append(
            (
                code(fault.kind, in_table=True),
                code(fault.target, in_table=True),
                *((text(display.case_label(result, fault.case), 80),) if several else ()),
                display.seconds(fault.start_s),
                healed,
                text(fault.detail, 120),
            )
        )
    header = ("fault", "target", *(("case",) if several else ()), "struck", "healed", "detail")
    lines = _table(header, rows)
    left = len(result.faults) - MAX_FAULTS
    return lines + ([f"... and {left} more faults in report.html.", ""] if left > 0 else [])


def _patterns(result: ResilienceResult) -> list[str]:
    """How the orchestration patterns acted on the runs, when any did."""
    rows = display.pattern_rows(result.runs)
    if not rows:
        return []
    return ["### Orchestration patterns", "", *_table(("pattern", "runs"), _plain_rows(rows))]


def render_markdown(result: ResilienceResult, *, comparison: Comparison | None = None) -> str:
    """The Markdown report of ``result``; with ``comparison``, the baseline's verdict on it."""
    lines = _headline(result) + _error(result)
    if comparison is not None:
        lines += _comparison(comparison)
    lines += _anomalies(result)
    shown = {a.replay_command for a in result.anomalies[:MAX_ANOMALIES]}
    if result.replay_command and result.replay_command not in shown:
        lines += ["Replay this run:", "", *_code_block(result.replay_command, "sh"), ""]

    lines += ["## Invariants", ""]
    if result.invariants:
        lines += _table(
            ("invariant", "verdict", "anomalies", "note"),
            (
                (code(i.name, in_table=True), i.verdict, str(len(i.anomalies)), text(i.note))
                for i in result.invariants
            ),
        )
    elif result.error is not None:
        lines += ["The harness failed before any invariant was checked.", ""]
    else:
        lines += ["No invariant was checked, so the verdict cannot be valid.", ""]

    lines += ["## Figures", ""]
    lines += _table(("metric", "value"), _plain_rows(display.summary_rows(summary(result))))
    lines += _patterns(result)
    if result.load is not None:
        lines += ["### Load", ""]
        lines += _table(("metric", "value"), _plain_rows(display.load_rows(result.load)))
        if result.load.thresholds:
            rows = _plain_rows(display.threshold_rows(result.load))
            lines += _table(("threshold", "observed", "result"), rows)
    lines += ["### Faults", "", *_faults(result)]
    return "\n".join(lines).rstrip("\n") + "\n"

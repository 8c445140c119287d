"""The Markdown report: verdict, score, summary, checkers, every anomaly, faults, baseline.

Written for a CI job summary or a pull-request comment. Prose from the result is escaped, so a
scenario name or an anomaly's detail cannot inject markup; identifiers (run ids, steps, replay
tokens) go in code spans, where Markdown takes them literally.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from . import _display as display
from ._analysis import summary
from ._baseline import Comparison
from ._schema import ResilienceResult
from ._score import resilience_score

# Backslash-escape the ASCII punctuation that starts markup inside a line.
_MARKUP = re.compile(r"([\\`*_\[\]<>|#!~&$])")
_BACKTICKS = re.compile(r"`+")


def _text(value: str) -> str:
    return _MARKUP.sub(r"\\\1", " ".join(value.split()))


def _code(value: str, *, in_table: bool = False) -> str:
    if not value:
        return "(empty)"
    flat = " ".join(value.splitlines())
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(flat)), default=0) + 1)
    if flat.startswith("`") or flat.endswith("`"):
        flat = f" {flat} "
    if in_table:
        # GitHub splits table cells on '|' even inside code spans, unless it is escaped.
        flat = flat.replace("|", "\\|")
    return f"{fence}{flat}{fence}"


def _code_block(value: str, language: str) -> list[str]:
    longest = max((len(run) for run in _BACKTICKS.findall(value)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + language, value, fence]


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell or " " for cell in row) + " |" for row in rows]
    return [*lines, ""]


def _codes(values: Iterable[str]) -> str:
    return ", ".join(_code(v) for v in values) or "none"


def _anomaly_section(result: ResilienceResult) -> list[str]:
    lines = ["## Anomalies", ""]
    number = 0
    for checker in result.checkers:
        for anomaly in checker.anomalies:
            number += 1
            token = _code(anomaly.replay_token) if anomaly.replay_token else "none recorded"
            lines += [
                f"### {number}. {_code(anomaly.kind)} (checker {_code(checker.name)})",
                "",
                f"- run: {_code(anomaly.run_id)}",
                f"- steps: {_codes(anomaly.steps)}",
                f"- event seqs: {', '.join(map(str, anomaly.event_seqs)) or 'none'}",
                f"- replay token: {token}",
                f"- detail: {_text(anomaly.detail)}",
                "",
            ]
    if number == 0:
        lines += ["None found.", ""]
    return lines


def _comparison_section(comparison: Comparison) -> list[str]:
    lines = [
        "## Compared with the baseline",
        "",
        f"**{_text(display.comparison_headline(comparison))}**",
        "",
    ]
    rows = [tuple(_text(cell) for cell in row) for row in display.comparison_rows(comparison)]
    return lines + _table(("", "baseline", "this run", "change"), rows)


def render_markdown(result: ResilienceResult, *, comparison: Comparison | None = None) -> str:
    """The Markdown report of ``result``; with ``comparison``, a section on the baseline too."""
    numbers = summary(result)
    lines = [
        f"# Resilience report: {_text(result.scenario)}",
        "",
        f"**Verdict: {result.verdict.upper()}** | "
        f"resilience score **{display.score(resilience_score(result))}** / 100",
        "",
    ]
    lines += _table(("", ""), ((k, _text(v)) for k, v in display.about_rows(result)))
    if result.replay_command:
        lines += ["Replay this run:", "", *_code_block(result.replay_command, "sh"), ""]
    if comparison is not None:
        lines += _comparison_section(comparison)

    lines += ["## Summary", ""]
    lines += _table(("metric", "value"), ((k, _text(v)) for k, v in display.summary_rows(numbers)))

    lines += ["## Checkers", ""]
    if result.checkers:
        lines += _table(
            ("checker", "verdict", "anomalies", "note"),
            (
                (_code(c.name, in_table=True), c.verdict, str(len(c.anomalies)), _text(c.note))
                for c in result.checkers
            ),
        )
    else:
        lines += ["No checker ran, so the verdict is unknown.", ""]

    lines += _anomaly_section(result)

    lines += ["## Faults", ""]
    if result.faults:
        lines += _table(
            ("kind", "target", "at", "healed at", "detail"),
            (
                (
                    _code(f.kind, in_table=True),
                    _code(f.target, in_table=True),
                    display.seconds(f.at),
                    display.seconds(f.healed_at) if f.healed_at is not None else "not healed",
                    _text(f.detail),
                )
                for f in result.faults
            ),
        )
    else:
        lines += ["No fault was injected.", ""]
    return "\n".join(lines).rstrip("\n") + "\n"

"""The JUnit XML report: one test case per checker, so CI shows a broken invariant as a failure.

``invalid`` becomes a ``<failure>`` listing the anomalies and their replay tokens; ``unknown``
becomes an ``<error>`` rather than a skip, because a checker that could not decide has not shown
the run to be safe and CI should say so. A result with no checker at all gets one erroring case.
With a baseline comparison, a regression is one more failing case.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Final

from . import _display as display
from ._baseline import Comparison
from ._schema import CheckerResult, ResilienceResult
from ._score import resilience_score

# Characters XML 1.0 cannot hold at all, even escaped; ElementTree would write them anyway.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", text)


def _anomaly_lines(checker: CheckerResult) -> str:
    lines = []
    for anomaly in checker.anomalies:
        lines.append(
            f"- {anomaly.kind} run={anomaly.run_id} steps={list(anomaly.steps)} "
            f"event_seqs={list(anomaly.event_seqs)} replay_token={anomaly.replay_token}\n"
            f"  {anomaly.detail}"
        )
    return "\n".join(lines)


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", {"classname": _xml(classname), "name": _xml(name), "time": "0"}
    )


def _checker_case(suite: ET.Element, classname: str, checker: CheckerResult) -> None:
    case = _case(suite, classname, checker.name)
    if checker.verdict == "invalid":
        kinds = sorted({a.kind for a in checker.anomalies})
        count = len(checker.anomalies)
        noun = "anomaly" if count == 1 else "anomalies"
        message = f"{count} {noun}: {', '.join(kinds)}" if kinds else "invalid, no anomaly recorded"
        failure = ET.SubElement(case, "failure", {"message": _xml(message), "type": "invalid"})
        failure.text = _xml("\n".join(filter(None, [checker.note, _anomaly_lines(checker)])))
    elif checker.verdict == "unknown":
        message = "verdict unknown" + (f": {checker.note}" if checker.note else "")
        error = ET.SubElement(case, "error", {"message": _xml(message), "type": "unknown"})
        error.text = _xml(
            "The checker could not decide whether its invariant held; "
            "an unknown verdict is never read as valid."
        )
    elif checker.note:
        ET.SubElement(case, "system-out").text = _xml(checker.note)


def render_junit(result: ResilienceResult, *, comparison: Comparison | None = None) -> str:
    """The JUnit XML report of ``result``: a test suite named after the scenario."""
    classname = f"chaosflow.{result.scenario}"
    suite = ET.Element(
        "testsuite",
        {
            "name": _xml(result.scenario),
            "timestamp": result.started_at,
            "time": f"{result.duration_s:.3f}",
        },
    )
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("mode", result.mode),
        ("seed", str(result.seed)),
        ("verdict", result.verdict),
        ("resilience_score", display.score(resilience_score(result))),
        ("schema_version", str(result.schema_version)),
        ("replay_command", result.replay_command or ""),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": _xml(value)})

    for checker in result.checkers:
        _checker_case(suite, classname, checker)
    if not result.checkers:
        case = _case(suite, classname, "checkers")
        ET.SubElement(
            case,
            "error",
            {"message": "no checker ran, so the verdict is unknown", "type": "unknown"},
        )
    if comparison is not None:
        case = _case(suite, classname, "baseline")
        if comparison.regressed:
            failure = ET.SubElement(
                case,
                "failure",
                {"message": _xml(display.comparison_headline(comparison)), "type": "regression"},
            )
            failure.text = _xml("\n".join(comparison.reasons))

    cases = suite.findall("testcase")
    counts = {
        "tests": str(len(cases)),
        "failures": str(sum(1 for c in cases if c.find("failure") is not None)),
        "errors": str(sum(1 for c in cases if c.find("error") is not None)),
        "skipped": "0",
    }
    suite.attrib.update(counts)
    suites = ET.Element("testsuites", {"name": "chaosflow", **counts, "time": suite.attrib["time"]})
    suites.append(suite)
    ET.indent(suites)
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
    )

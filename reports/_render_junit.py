"""The JUnit XML report: one test suite per scenario, one test case per invariant.

Valid against the Jenkins xunit ``junit-10.xsd`` (a test validates it): ``<testsuites>`` carries
only ``name``, ``time``, ``tests``, ``failures`` and ``errors``; each ``<testsuite>`` the required
``tests``, ``failures``, ``errors`` and the optional ``skipped``, ``time``, ``timestamp``.

``invalid`` becomes a ``<failure>`` listing the anomalies and their replay commands; ``unknown``
becomes an ``<error>`` rather than a skip, because an invariant that could not be decided has not
shown the run to be safe and CI should say so. A load threshold is a case of its own; a result
whose harness failed has one erroring ``harness`` case; one with no invariant an erroring
``invariants`` case. With a baseline comparison, a regression is one more failing case.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Final

from . import _display as display
from ._baseline import Comparison
from ._model import InvariantResult
from ._schema import ResilienceResult

# Characters XML 1.0 cannot hold at all, even escaped; ElementTree would write them anyway.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub("\N{REPLACEMENT CHARACTER}", text)


def _anomaly_lines(result: ResilienceResult, invariant: InvariantResult) -> str:
    lines = []
    for anomaly in invariant.anomalies:
        case = display.case_label(result, anomaly.case)
        lines.append(
            f"- {anomaly.kind} run={anomaly.run_id}{f' case={case}' if case else ''} "
            f"steps={list(anomaly.steps)} event_seqs={list(anomaly.event_seqs)}\n"
            f"  {anomaly.detail}"
            + (f"\n  replay: {anomaly.replay_command}" if anomaly.replay_command else "")
        )
    return "\n".join(lines)


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    return ET.SubElement(
        suite, "testcase", {"classname": _xml(classname), "name": _xml(name), "time": "0"}
    )


def _invariant_case(
    suite: ET.Element, classname: str, result: ResilienceResult, invariant: InvariantResult
) -> None:
    case = _case(suite, classname, invariant.name)
    if invariant.verdict == "invalid":
        kinds = sorted({a.kind for a in invariant.anomalies})
        count = len(invariant.anomalies)
        noun = "anomaly" if count == 1 else "anomalies"
        message = f"{count} {noun}: {', '.join(kinds)}" if kinds else "invalid, no anomaly recorded"
        failure = ET.SubElement(case, "failure", {"message": _xml(message), "type": "invalid"})
        lines = [invariant.note, _anomaly_lines(result, invariant)]
        failure.text = _xml("\n".join(filter(None, lines)))
    elif invariant.verdict == "unknown":
        message = "verdict unknown" + (f": {invariant.note}" if invariant.note else "")
        error = ET.SubElement(case, "error", {"message": _xml(message), "type": "unknown"})
        error.text = _xml(
            "The checker could not decide whether its invariant held; "
            "an unknown verdict is never read as valid."
        )
    elif invariant.note:
        ET.SubElement(case, "system-out").text = _xml(invariant.note)


def _suite(result: ResilienceResult, comparison: Comparison | None) -> ET.Element:
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
        ("schema", result.schema_id),
        ("mode", result.mode),
        ("seed", str(result.seed)),
        ("verdict", result.verdict),
        ("resilience_score", display.score(result.score)),
        ("replay_command", result.replay_command or ""),
    ):
        ET.SubElement(properties, "property", {"name": name, "value": _xml(value)})

    if result.error is not None:
        case = _case(suite, classname, "harness")
        error = ET.SubElement(
            case,
            "error",
            {
                "message": _xml(f"the harness could not finish: {result.error.kind}"),
                "type": "harness",
            },
        )
        error.text = _xml(result.error.message)
    for invariant in result.invariants:
        _invariant_case(suite, classname, result, invariant)
    if not result.invariants and result.error is None:
        case = _case(suite, classname, "invariants")
        ET.SubElement(
            case,
            "error",
            {"message": "no invariant was checked, so the verdict is unknown", "type": "unknown"},
        )
    for threshold in result.load.thresholds if result.load is not None else ():
        case = _case(
            suite, classname, f"threshold {threshold.metric} {threshold.op} {threshold.value:g}"
        )
        observed = display.number(threshold.observed)
        if threshold.passed is False:
            ET.SubElement(case, "failure", {"message": f"observed {observed}", "type": "threshold"})
        elif threshold.passed is None:
            ET.SubElement(case, "error", {"message": "not measured", "type": "unknown"})
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
    suite.attrib.update(
        {
            "tests": str(len(cases)),
            "failures": str(sum(1 for c in cases if c.find("failure") is not None)),
            "errors": str(sum(1 for c in cases if c.find("error") is not None)),
            "skipped": "0",
        }
    )
    return suite


def render_junit_suite(
    results: Iterable[tuple[ResilienceResult, Comparison | None]], *, name: str = "chaosflow"
) -> str:
    """The JUnit XML of several results: one ``<testsuite>`` per result (and its comparison)."""
    suites = [_suite(result, comparison) for result, comparison in results]
    totals = {
        key: str(sum(int(s.attrib[key]) for s in suites)) for key in ("tests", "failures", "errors")
    }
    time = sum(float(s.attrib["time"]) for s in suites)
    root = ET.Element("testsuites", {"name": _xml(name), **totals, "time": f"{time:.3f}"})
    root.extend(suites)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def render_junit(result: ResilienceResult, *, comparison: Comparison | None = None) -> str:
    """The JUnit XML report of ``result``: a test suite named after the scenario."""
    return render_junit_suite([(result, comparison)])

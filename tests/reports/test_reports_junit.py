"""JUnit XML: valid against the rules of the Jenkins xunit junit-10.xsd (data/junit-ci.xsd), one
case per invariant per scenario."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from reports import HarnessError, ResilienceResult, compare, render_junit, render_junit_suite
from tests.reports._builders import (
    anomaly,
    invariant,
    load_section,
    make_load_result,
    make_result,
    the_four_results,
)

# tests/reports/data/README.md says where the schema comes from.
XSD = xmlschema.XMLSchema(Path(__file__).parent / "data" / "junit-ci.xsd")
HOSTILE = "<script>alert(1)</script>"


def cases_of(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    return {case.attrib["name"]: case for case in root.iter("testcase")}


def test_every_kind_of_result_is_valid_against_the_jenkins_schema(
    each_result: ResilienceResult,
) -> None:
    XSD.validate(render_junit(each_result))


def test_an_error_result_a_regression_and_a_suite_are_valid_too(sample: ResilienceResult) -> None:
    failed = make_result(error=HarnessError(kind="OSError", message="no server"))
    XSD.validate(render_junit(failed))
    baseline = make_result(invariants=(invariant("effects_once", "valid"),))
    XSD.validate(render_junit(sample, comparison=compare(sample, baseline)))
    XSD.validate(render_junit_suite([(r, None) for r in the_four_results().values()]))


def test_the_schema_refuses_what_the_old_renderer_wrote() -> None:
    # A `skipped` attribute on <testsuites> is what the old renderer wrote: the schema says no.
    old = (
        '<testsuites name="chaosflow" tests="1" failures="0" errors="0" skipped="0" time="1.0">'
        '<testsuite name="s" tests="1" failures="0" errors="0"><testcase name="c"/></testsuite>'
        "</testsuites>"
    )
    assert not XSD.is_valid(old)
    assert XSD.is_valid(old.replace(' skipped="0"', ""))


def test_a_failure_for_an_invalid_invariant_lists_the_replay_commands(
    sample: ResilienceResult,
) -> None:
    xml = render_junit(sample)
    cases = cases_of(xml)
    assert set(cases) == {"effects_once", "compensations", "progress"}
    failure = cases["effects_once"].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "1 anomaly: duplicate_effect"
    assert "replay: chaosflow replay tok-dup" in (failure.text or "")
    assert len(cases["progress"]) == 0  # valid: no failure, error or skip
    root = ET.fromstring(xml)
    assert "skipped" not in root.attrib
    suite = root.find("testsuite")
    assert suite is not None and suite.attrib["name"] == "order-saga-crash"
    assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["errors"]) == (
        "3",
        "2",
        "0",
    )
    assert (root.attrib["tests"], root.attrib["failures"]) == ("3", "2")
    properties = {p.attrib["name"]: p.attrib["value"] for p in suite.iter("property")}
    assert properties["seed"] == "7" and properties["verdict"] == "invalid"
    assert properties["resilience_score"] == "8.3"


def test_unknown_is_an_error_so_ci_notices() -> None:
    result = make_result(invariants=(invariant("progress", "unknown", note="timed out"),))
    case = cases_of(render_junit(result))["progress"]
    error = case.find("error")
    assert error is not None and case.find("skipped") is None
    assert error.attrib["message"] == "verdict unknown: timed out"


def test_no_invariant_is_one_erroring_case_and_a_harness_error_another() -> None:
    cases = cases_of(render_junit(make_result(invariants=())))
    assert list(cases) == ["invariants"] and cases["invariants"].find("error") is not None
    failed = make_result(error=HarnessError(kind="OSError", message="no server"), invariants=())
    harness = cases_of(render_junit(failed))
    assert list(harness) == ["harness"]
    error = harness["harness"].find("error")
    assert error is not None and error.text == "no server"


def test_each_load_threshold_is_a_case() -> None:
    broken = make_load_result(
        load=load_section(
            thresholds=[
                {
                    "metric": "e2e_p99_ms",
                    "op": "<",
                    "value": 1000.0,
                    "observed": 1850.0,
                    "passed": False,
                },
                {
                    "metric": "completion_rate",
                    "op": ">",
                    "value": 0.5,
                    "observed": 0.77,
                    "passed": True,
                },
            ]
        )
    )
    cases = cases_of(render_junit(broken))
    failure = cases["threshold e2e_p99_ms < 1000"].find("failure")
    assert failure is not None and failure.attrib["message"] == "observed 1,850"
    assert len(cases["threshold completion_rate > 0.5"]) == 0


def test_hostile_and_control_characters_survive() -> None:
    result = make_result(
        scenario=HOSTILE,
        invariants=(invariant("c", "invalid", anomaly(detail="bell\x07 & <tag> ]]>")),),
    )
    xml = render_junit(result)
    XSD.validate(xml)
    failure = cases_of(xml)["c"].find("failure")
    assert failure is not None and "& <tag> ]]>" in (failure.text or "")
    assert cases_of(xml)["c"].attrib["classname"] == f"chaosflow.{HOSTILE}"


def test_a_regression_is_a_failing_case(sample: ResilienceResult) -> None:
    baseline = make_result(invariants=(invariant("effects_once", "valid"),))
    cases = cases_of(render_junit(sample, comparison=compare(sample, baseline)))
    failure = cases["baseline"].find("failure")
    assert failure is not None and failure.attrib["type"] == "regression"
    steady = cases_of(render_junit(sample, comparison=compare(sample, sample)))
    assert len(steady["baseline"]) == 0


def test_a_suite_has_one_testsuite_per_result() -> None:
    results = list(the_four_results().values())
    root = ET.fromstring(render_junit_suite([(r, None) for r in results], name="nightly"))
    assert root.attrib["name"] == "nightly"
    assert [s.attrib["name"] for s in root.findall("testsuite")] == [r.scenario for r in results]
    assert int(root.attrib["tests"]) == sum(int(s.attrib["tests"]) for s in root)


@pytest.mark.parametrize("name", ["", " "])
def test_an_empty_name_never_reaches_the_xml(name: str) -> None:
    with pytest.raises(Exception, match="scenario"):
        make_result(scenario=name)

"""Markdown, HTML, JUnit XML and the timeline PNG: content, escaping, self-containment."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from typing import Any

from reports import (
    ResilienceResult,
    compare,
    render_html,
    render_junit,
    render_markdown,
    timeline_png,
)

HOSTILE = "<script>alert(1)</script>"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# --- Markdown -----------------------------------------------------------------------------------


def test_markdown_shows_verdict_score_and_every_replay_token(sample: ResilienceResult) -> None:
    text = render_markdown(sample)
    assert "**Verdict: INVALID**" in text
    assert "resilience score **11.1** / 100" in text  # 100/3 * 1/3
    for anomaly in sample.anomalies:
        assert anomaly.replay_token is not None
        assert f"replay token: `{anomaly.replay_token}`" in text
    assert "chaosflow demo --seed 7" in text


def test_markdown_has_summary_checkers_anomalies_and_faults(sample: ResilienceResult) -> None:
    text = render_markdown(sample)
    for heading in ("## Summary", "## Checkers", "## Anomalies", "## Faults"):
        assert heading in text
    assert "| completion rate | 33.3% |" in text
    assert "| `effects_once` | invalid | 1 |" in text
    assert "| `progress` | valid | 0 |" in text
    assert "| `partition` | `worker-1` | 5.000 s | not healed | SIGKILL |" in text
    assert "### 2. `missing_compensation` (checker `compensations`)" in text
    assert "Compared with the baseline" not in text


def test_markdown_says_when_there_is_nothing(make: Any) -> None:
    text = render_markdown(make.result(checkers=(), runs=(), faults=(), replay_command=None))
    assert "**Verdict: UNKNOWN**" in text
    assert "No checker ran" in text
    assert "None found." in text
    assert "No fault was injected." in text
    assert "Replay this run" not in text


def test_markdown_escapes_markup_in_user_strings(make: Any) -> None:
    result = make.result(
        scenario=HOSTILE + " | $x$",
        checkers=(
            make.checker(
                "pipes|in|name",
                "invalid",
                make.anomaly(detail="see [here](javascript:x) *now*", token="a`b"),
                note="note | with pipe",
            ),
        ),
    )
    text = render_markdown(result)
    assert HOSTILE not in text
    assert r"\<script\>" in text
    assert r"\$x\$" in text
    assert "`pipes\\|in\\|name`" in text  # a code span in a table cell still escapes '|'
    assert r"\[here\](javascript:x) \*now\*" in text
    assert "``a`b``" in text  # a backtick in a token gets a longer fence
    # Every table row keeps its column count despite the pipes in the strings.
    checker_row = next(line for line in text.splitlines() if "pipes" in line)
    assert len(re.findall(r"(?<!\\)\|", checker_row)) == 5


def test_markdown_shows_the_baseline_comparison(make: Any, sample: ResilienceResult) -> None:
    baseline = make.result(checkers=(make.checker("effects_once", "valid"),))
    text = render_markdown(sample, comparison=compare(sample, baseline))
    assert "## Compared with the baseline" in text
    assert "**Regressed: " in text
    assert "duplicate" in text and "| score | 33.3 | 11.1 | -22.2 |" in text


# --- HTML ---------------------------------------------------------------------------------------


def test_html_is_self_contained_with_an_embedded_png(sample: ResilienceResult) -> None:
    page = render_html(sample)
    assert "data:image/png;base64," in page
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    encoded = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert encoded is not None
    assert base64.b64decode(encoded.group(1)).startswith(PNG_SIGNATURE)


def test_html_escapes_a_hostile_scenario_name(make: Any) -> None:
    result = make.result(
        scenario=HOSTILE,
        checkers=(make.checker(HOSTILE, "invalid", make.anomaly(detail=HOSTILE, token=HOSTILE)),),
        faults=(make.fault(kind=HOSTILE),),
        replay_command=HOSTILE,
    )
    page = render_html(result)
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 6
    assert "Content-Security-Policy" in page


def test_html_lists_checkers_anomalies_and_faults(sample: ResilienceResult) -> None:
    page = render_html(sample)
    assert "<title>Resilience report: order-saga-crash</title>" in page
    assert 'class="verdict verdict-invalid">INVALID' in page
    assert "<code>tok-dup</code>" in page and "<code>tok-miss</code>" in page
    assert "<code>partition</code>" in page and "not healed" in page
    assert "<td>33.3%</td>" in page  # completion rate


def test_html_shows_the_baseline_comparison(sample: ResilienceResult) -> None:
    page = render_html(sample, comparison=compare(sample, sample))
    assert "Compared with the baseline" in page
    assert "No regression against the baseline." in page


def test_timeline_png_survives_names_matplotlib_would_misread(make: Any) -> None:
    # '$...$' is mathtext to matplotlib (and '\bogus' would not parse), and
    # '\N{GRINNING FACE}' is missing from the bundled font: under filterwarnings=error a glyph
    # warning would fail this test.
    many_runs = tuple(make.run(f"r{i}", "completed", i * 0.1, i * 0.1 + 1) for i in range(60))
    result = make.result(scenario=r"cost $\bogus{5}$ " + "\N{GRINNING FACE} 订单", runs=many_runs)
    assert timeline_png(result).startswith(PNG_SIGNATURE)
    empty = make.result(runs=(), faults=())
    assert timeline_png(empty).startswith(PNG_SIGNATURE)


# --- JUnit --------------------------------------------------------------------------------------


def cases_of(xml: str) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    return {case.attrib["name"]: case for case in root.iter("testcase")}


def test_junit_has_a_failure_for_an_invalid_checker(sample: ResilienceResult) -> None:
    xml = render_junit(sample)
    cases = cases_of(xml)
    assert set(cases) == {"effects_once", "compensations", "progress"}
    failure = cases["effects_once"].find("failure")
    assert failure is not None
    assert failure.attrib["message"] == "1 anomaly: duplicate_effect"
    assert "replay_token=tok-dup" in (failure.text or "")
    assert len(cases["progress"]) == 0  # valid: no failure, error or skip
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    assert suite.attrib["name"] == "order-saga-crash"
    assert (suite.attrib["tests"], suite.attrib["failures"], suite.attrib["errors"]) == (
        "3",
        "2",
        "0",
    )
    properties = {p.attrib["name"]: p.attrib["value"] for p in suite.iter("property")}
    assert properties["seed"] == "7" and properties["verdict"] == "invalid"


def test_junit_makes_unknown_an_error_so_ci_notices(make: Any) -> None:
    result = make.result(checkers=(make.checker("progress", "unknown", note="timed out"),))
    case = cases_of(render_junit(result))["progress"]
    error = case.find("error")
    assert error is not None and case.find("skipped") is None
    assert error.attrib["message"] == "verdict unknown: timed out"


def test_junit_with_no_checkers_has_one_erroring_case(make: Any) -> None:
    cases = cases_of(render_junit(make.result(checkers=())))
    assert list(cases) == ["checkers"]
    assert cases["checkers"].find("error") is not None


def test_junit_survives_hostile_and_control_characters(make: Any) -> None:
    result = make.result(
        scenario=HOSTILE,
        checkers=(make.checker("c", "invalid", make.anomaly(detail="bell\x07 & <tag> ]]>")),),
    )
    xml = render_junit(result)
    cases = cases_of(xml)  # parses: the control character did not reach the XML
    failure = cases["c"].find("failure")
    assert failure is not None and "& <tag> ]]>" in (failure.text or "")
    assert cases["c"].attrib["classname"] == f"chaosflow.{HOSTILE}"


def test_junit_adds_a_failing_case_for_a_regression(make: Any, sample: ResilienceResult) -> None:
    baseline = make.result(checkers=(make.checker("effects_once", "valid"),))
    cases = cases_of(render_junit(sample, comparison=compare(sample, baseline)))
    failure = cases["baseline"].find("failure")
    assert failure is not None and failure.attrib["type"] == "regression"
    steady = cases_of(render_junit(sample, comparison=compare(sample, sample)))
    assert len(steady["baseline"]) == 0

"""write_reports and write_suite: the files, Parquet beside the JSON, bad formats refused."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reports import (
    REPORT_FORMATS,
    ReportError,
    ResilienceResult,
    events_frame,
    load_result,
    read_history,
    write_reports,
    write_suite,
)
from tests.reports._builders import invariant, make_result, the_four_results


def test_writes_every_format_by_default(tmp_path: Path, sample: ResilienceResult) -> None:
    out = tmp_path / "deep" / "reports"
    paths = write_reports(sample, out)
    assert paths == {
        "json": out / "result.json",
        "md": out / "report.md",
        "html": out / "report.html",
        "junit": out / "junit.xml",
    }
    assert load_result(paths["json"]) == sample
    assert paths["md"].read_text(encoding="utf-8").startswith("# INVALID: resilience report")
    assert "data:image/png;base64," in paths["html"].read_text(encoding="utf-8")
    assert ET.parse(paths["junit"]).getroot().tag == "testsuites"


def test_history_goes_to_parquet_beside_the_json(tmp_path: Path, sample: ResilienceResult) -> None:
    events = events_frame(
        {
            "case": None,
            "seq": i,
            "run_id": "run-1",
            "workflow": "order",
            "step": "charge",
            "kind": "step_claimed",
            "attempt": 1,
            "worker_id": "w",
            "t": 0.1 * i,
            "detail": {"i": i},
        }
        for i in range(1, 2001)
    )
    write_reports(sample, tmp_path, history={"events": events})
    document = load_result(tmp_path / "result.json")
    assert document.artifacts == {"events": "events.parquet"}
    again = read_history(tmp_path, "events")
    assert again.to_dict("records") == events.to_dict("records")
    with pytest.raises(ReportError, match=r"has no 'effects' table beside it"):
        read_history(tmp_path / "result.json", "effects")


def test_a_load_series_always_goes_to_parquet(
    tmp_path: Path, load_sample: ResilienceResult
) -> None:
    write_reports(load_sample, tmp_path, formats=("json",))
    series = read_history(tmp_path, "load_series")
    assert len(series) == 30 and series["completed"].iloc[15] == 8
    # The JSON keeps the series too (LOAD_SECTION.md).
    assert load_result(tmp_path).load is not None


def test_re_rendering_carries_the_tables_along(tmp_path: Path, sample: ResilienceResult) -> None:
    events = events_frame([{"seq": 1, "run_id": "r", "kind": "run_submitted", "t": 0.0}])
    write_reports(sample, tmp_path / "first", history={"events": events})
    read = load_result(tmp_path / "first")
    write_reports(read, tmp_path / "second", artifacts_from=tmp_path / "first")
    assert len(read_history(tmp_path / "second", "events")) == 1
    write_reports(read, tmp_path / "third")  # nowhere to copy from: the table is dropped
    assert load_result(tmp_path / "third").artifacts == {}


def test_writes_only_the_formats_asked_once_each(tmp_path: Path, sample: ResilienceResult) -> None:
    paths = write_reports(sample, tmp_path, formats=["md", "json", "md"])
    assert list(paths) == ["md", "json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md", "result.json"]


def test_an_unknown_format_is_named_with_the_valid_ones(
    tmp_path: Path, sample: ResilienceResult
) -> None:
    out = tmp_path / "never"
    match = r"format='pdf', which it cannot write\. The formats are 'json', 'md', 'html', 'junit'"
    with pytest.raises(ReportError, match=match):
        write_reports(sample, out, formats=("json", "pdf"))
    assert not out.exists()  # refused before anything was written


def test_a_single_string_or_no_formats_is_refused(tmp_path: Path, sample: ResilienceResult) -> None:
    with pytest.raises(ReportError, match=r"formats='md', one string.*formats=\('md',\)"):
        write_reports(sample, tmp_path, formats="md")
    with pytest.raises(ReportError, match=r"formats=\(\), so there is nothing to write"):
        write_reports(sample, tmp_path, formats=())


def test_a_baseline_shows_in_the_reports(tmp_path: Path, sample: ResilienceResult) -> None:
    baseline = make_result(invariants=(invariant("effects_once", "valid"),))
    paths = write_reports(sample, tmp_path, baseline=baseline)
    markdown = paths["md"].read_text(encoding="utf-8")
    assert "## Compared with the baseline" in markdown and "**Regressed: " in markdown
    names = [c.attrib["name"] for c in ET.parse(paths["junit"]).getroot().iter("testcase")]
    assert "baseline" in names
    assert load_result(paths["json"]) == sample  # the result document stays the result alone


def test_a_suite_gets_an_index_and_one_junit_file(tmp_path: Path) -> None:
    results = list(the_four_results().values())
    baseline = make_result(invariants=(invariant("effects_once", "valid"),), timeline=None)
    report = write_suite(results, tmp_path, baselines=[baseline], title="nightly")
    assert sorted(report.paths) == ["html", "junit", "md"]
    assert [f.name for f in report.folders] == [
        "01-order-saga-crash",
        "02-order-saga-crash",
        "03-order-saga-crash",
        "04-order-saga-load",
    ]
    assert sorted(p.name for p in report.folders[0].iterdir()) == [
        "report.html",
        "report.md",
        "result.json",
    ]
    index = report.paths["html"].read_text(encoding="utf-8")
    for folder in report.folders:
        assert f'<a href="{folder.name}/report.html">' in index
    assert 'class="verdict verdict-invalid">INVALID' in index  # the worst verdict leads
    assert report.regressed  # the invalid result is worse than the valid baseline
    assert "Regressed against the baseline: order-saga-crash" in index
    junit = ET.parse(report.paths["junit"]).getroot()
    assert len(junit.findall("testsuite")) == 4
    markdown = report.paths["md"].read_text(encoding="utf-8")
    assert markdown.startswith("# INVALID: resilience reports for nightly")


def test_a_suite_refuses_a_baseline_of_no_result(tmp_path: Path) -> None:
    other = make_result(scenario="checkout")
    with pytest.raises(ReportError, match=r"baseline of scenario 'checkout' matches none"):
        write_suite([make_result()], tmp_path, baselines=[other])


def test_report_formats_name_the_files() -> None:
    assert dict(REPORT_FORMATS) == {
        "json": "result.json",
        "md": "report.md",
        "html": "report.html",
        "junit": "junit.xml",
    }


def test_reports_imports_no_other_chaosflow_package() -> None:
    code = (
        "import sys, reports; "
        "print(sorted(m for m in ('orchestrator', 'faults', 'scenarios', 'loadtests', 'chaosflow') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"

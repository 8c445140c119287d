"""write_reports: the files, their names, bad formats refused before anything is written."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from reports import REPORT_FORMATS, ReportError, ResilienceResult, load_result, write_reports


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
    assert paths["md"].read_text(encoding="utf-8").startswith("# Resilience report: ")
    assert "data:image/png;base64," in paths["html"].read_text(encoding="utf-8")
    assert ET.parse(paths["junit"]).getroot().tag == "testsuites"


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


def test_a_single_string_of_formats_is_refused(tmp_path: Path, sample: ResilienceResult) -> None:
    with pytest.raises(ReportError, match=r"formats='md', one string.*formats=\('md',\)"):
        write_reports(sample, tmp_path, formats="md")


def test_no_formats_is_refused(tmp_path: Path, sample: ResilienceResult) -> None:
    with pytest.raises(ReportError, match=r"formats=\(\), so there is nothing to write"):
        write_reports(sample, tmp_path, formats=())


def test_a_baseline_shows_in_the_reports(tmp_path: Path, make: Any, sample: Any) -> None:
    baseline = make.result(checkers=(make.checker("effects_once", "valid"),))
    paths = write_reports(sample, tmp_path, baseline=baseline)
    markdown = paths["md"].read_text(encoding="utf-8")
    assert "## Compared with the baseline" in markdown and "**Regressed: " in markdown
    assert "Compared with the baseline" in paths["html"].read_text(encoding="utf-8")
    names = [c.attrib["name"] for c in ET.parse(paths["junit"]).getroot().iter("testcase")]
    assert "baseline" in names
    assert load_result(paths["json"]) == sample  # the result document stays the result alone


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

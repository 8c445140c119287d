"""``chaosflow report`` and ``chaosflow run --baseline``: files, regressions, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaosflow.cli import main
from reports import ResilienceResult
from tests.reports._builders import (
    invariant,
    load_section,
    make_load_result,
    make_result,
    the_four_results,
)

ROOT = Path(__file__).resolve().parents[2]
LEGACY = ROOT / "tests" / "reports" / "data" / "legacy-v1-demo.json"


def chaosflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "chaosflow", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def saved(result: ResilienceResult, folder: Path) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "result.json"
    path.write_text(result.dumps(), encoding="utf-8")
    return str(path)


def test_one_result_renders_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = saved(make_result(), tmp_path / "in")
    assert main(["report", source, "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "scenario 'order-saga-crash': verdict invalid, score 8.3, 2 anomalies" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "junit.xml",
        "report.html",
        "report.md",
        "result.json",
    ]


def test_only_the_formats_asked(tmp_path: Path) -> None:
    source = saved(make_result(), tmp_path / "in")
    assert main(["report", source, "--format", "md,html", "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "report.md"]


def test_an_old_document_is_rendered_in_the_new_schema(tmp_path: Path) -> None:
    assert main(["report", str(LEGACY), "--format", "json,md", "--out", str(tmp_path)]) == 0
    document = json.loads((tmp_path / "result.json").read_text())
    assert (document["schema"], document["verdict"]) == ("chaosflow-report/1", "valid")
    assert (tmp_path / "report.md").read_text().startswith("# VALID: ")


def test_a_regression_against_the_baseline_exits_5(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = saved(make_load_result(), tmp_path / "base")
    slower = make_load_result(
        load=load_section(
            recovery=[{"fault_index": 0, "recovered": True, "time_to_recover_s": 9.0}]
        )
    )
    current = saved(slower, tmp_path / "now")
    code = main(["report", current, "--baseline", baseline, "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 5, out
    assert "baseline: regressed: " in out and "time to recover rose from 2.0 s to 9.0 s" in out
    assert "**Regressed: " in (tmp_path / "out" / "report.md").read_text()
    # A looser tolerance lets the same result through.
    loose = ["--recovery-tolerance", "5", "--score-tolerance", "10"]
    assert (
        main(["report", current, "--baseline", baseline, *loose, "--out", str(tmp_path / "o2")])
        == 0
    )


def test_no_regression_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    same = saved(make_result(), tmp_path / "a")
    assert main(["report", same, "--baseline", same, "--out", str(tmp_path / "out")]) == 0
    assert "baseline: no regression against the baseline" in capsys.readouterr().out


def test_a_baseline_of_another_scenario_is_refused_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = saved(make_result(), tmp_path / "a")
    other = saved(make_result(scenario="checkout"), tmp_path / "b")
    assert main(["report", result, "--baseline", other, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "baseline of scenario 'checkout' matches none of the results" in err
    assert not (tmp_path / "out").exists()


def test_many_results_make_one_index(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = [saved(r, tmp_path / name) for name, r in the_four_results().items()]
    base = saved(make_result(invariants=(invariant("effects_once", "valid"),)), tmp_path / "base")
    out = tmp_path / "suite"
    code = main(["report", *sources, "--baseline", base, "--out", str(out), "--title", "nightly"])
    assert code == 5  # the invalid results regressed against the valid baseline
    assert (out / "index.html").exists() and (out / "index.md").exists()
    assert "<title>Resilience reports: nightly</title>" in (out / "index.html").read_text()
    assert (out / "junit.xml").read_text().count("<testsuite ") == 4
    assert len([p for p in out.iterdir() if p.is_dir()]) == 4


def test_bad_input_exits_2_naming_the_field_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_result().to_dict()
    data["invariants"][0]["verdict"] = "maybe"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = chaosflow("report", str(bad), "--out", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "result.invariants[0].verdict='maybe'" in result.stderr
    assert "Traceback" not in result.stderr
    newer = tmp_path / "newer.json"
    newer.write_text(json.dumps({**make_result().to_dict(), "schema": "chaosflow-report/7"}))
    result = chaosflow("report", str(newer))
    assert result.returncode == 2 and "is newer than this chaosflow reads" in result.stderr
    assert "Traceback" not in result.stderr
    for args, message in (
        ([str(tmp_path / "missing.json")], "Cannot read the result file"),
        ([str(bad), "--format", "pdf"], "--format='pdf' names ['pdf']"),
    ):
        assert main(["report", *args, "--out", str(tmp_path / "o")]) == 2
        assert message in capsys.readouterr().err
    missing = chaosflow("report", str(tmp_path / "missing.json"))
    assert missing.returncode == 2 and "Cannot read the result file" in missing.stderr
    assert "Traceback" not in missing.stderr


VALID_FILE = ROOT / "examples" / "scenarios" / "order_saga_crash.yaml"


def test_run_with_a_baseline_exits_5_on_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = tmp_path / "first"
    assert main(["run", str(VALID_FILE), "--report", str(first)]) == 0
    capsys.readouterr()
    # The same run against itself: no regression.
    assert main(["run", str(VALID_FILE), "--baseline", str(first / "result.json")]) == 0
    assert "baseline: no regression" in capsys.readouterr().out
    # A baseline in which every run completed: this run's rollback is a lower completion rate.
    better = json.loads((first / "result.json").read_text())
    assert any(r["outcome"] == "rolled_back" for r in better["runs"])
    for record in better["runs"]:
        record.update(state="completed", outcome="completed")
    (tmp_path / "better.json").write_text(json.dumps(better))
    code = main(
        [
            "run",
            str(VALID_FILE),
            "--baseline",
            str(tmp_path / "better.json"),
            "--report",
            str(tmp_path / "second"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 5, out
    assert "regressed against the baseline: completion rate fell" in out
    assert "**Regressed: " in (tmp_path / "second" / "report.md").read_text()


def test_run_refuses_a_baseline_of_another_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = saved(make_result(scenario="checkout"), tmp_path / "other")
    assert main(["run", str(VALID_FILE), "--baseline", other]) == 2
    assert "baseline is of scenario 'checkout'" in capsys.readouterr().err


@pytest.mark.toxiproxy
def test_a_harness_failure_is_verdict_error_and_exit_4(tmp_path: Path) -> None:
    # A real run whose Toxiproxy server cannot start: the harness fails, nothing was judged.
    real = ROOT / "examples" / "scenarios" / "order_saga_real.yaml"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHAOSFLOW_TOXIPROXY_BIN": str(tmp_path / "none")}
    result = subprocess.run(
        [sys.executable, "-m", "chaosflow", "run", str(real), "--report", str(tmp_path / "out")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 4, result.stderr
    assert "verdict: error" in result.stdout
    assert "the harness could not finish 'order-saga-real'" in result.stderr
    document = json.loads((tmp_path / "out" / "result.json").read_text())
    assert (document["verdict"], document["score"]) == ("error", None)
    assert document["error"]["kind"] == "ToxiproxyError"
    assert "Toxiproxy server binary was not found" in document["error"]["message"]
    assert "# ERROR: " in (tmp_path / "out" / "report.md").read_text()

"""The command line: usage errors exit 2; the demo prints a verdict and writes three reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaosflow.cli import main
from scenarios import ANOMALY_KINDS

ROOT = Path(__file__).resolve().parents[2]


def chaosflow(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "chaosflow", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unknown_verb_prints_usage_and_exits_2() -> None:
    result = chaosflow("explode")
    assert result.returncode == 2
    assert "usage: chaosflow" in result.stderr
    assert "invalid choice: 'explode'" in result.stderr


def test_bad_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["demo", "--seed", "many"])
    assert info.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err


def test_unimportable_workflow_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["submit", "--db", f"sqlite:///{tmp_path / 's.db'}", "--workflow", "nope.mod:wf"])
    assert code == 2
    assert "Cannot import module 'nope.mod'" in capsys.readouterr().err


def test_bad_store_url_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["status", "--db", "mysql://u:secret@h/db", "r1"])
    err = capsys.readouterr().err
    assert code == 2
    assert "backend 'mysql'" in err and "secret" not in err


def test_submit_status_events_round_trip(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSFLOW_LEDGER", str(tmp_path / "effects.db"))
    db = ["--db", f"sqlite:///{tmp_path / 's.db'}"]
    wf = ["--workflow", "examples.order_saga:order_saga"]
    order = json.dumps({"sku": "a", "qty": 1, "amount": 5, "address": "here"})
    assert main(["submit", *db, *wf, "--input", order, "--run-id", "r1"]) == 0
    assert capsys.readouterr().out.strip() == "r1"
    assert main(["worker", *db, *wf, "--until-idle", "--max-seconds", "30"]) == 0
    capsys.readouterr()
    assert main(["status", *db, "r1"]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "completed"
    assert main(["events", *db, "r1"]) == 0
    kinds = [json.loads(line)["kind"] for line in capsys.readouterr().out.splitlines()]
    assert kinds[0] == "run_submitted" and kinds[-1] == "run_completed"
    assert main(["status", *db, "nope"]) == 2
    assert "Run 'nope' is not in the store" in capsys.readouterr().err
    assert main(["submit", *db, *wf, "--input", "[1"]) == 2


def test_demo_prints_a_verdict_and_writes_three_reports(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    result = chaosflow("demo", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "verdict: valid" in result.stdout
    assert "fault: crash at order-saga-demo-0-0001/charge_payment@after_action" in result.stdout
    written = sorted(p.name for p in out.iterdir())
    # The three reports, and the history beside the JSON as Parquet.
    assert written == [
        "effects.parquet",
        "events.parquet",
        "report.html",
        "report.md",
        "result.json",
    ]
    document = json.loads((out / "result.json").read_text())
    assert (document["schema"], document["verdict"], document["score"]) == (
        "chaosflow-report/1",
        "valid",
        100.0,
    )
    # Every checker decided, and every one says valid: none could only say unknown.
    assert {c["name"]: c["verdict"] for c in document["invariants"]} == dict.fromkeys(
        ANOMALY_KINDS, "valid"
    )
    assert len(document["runs"]) == 4
    # The injected crash is on the timeline as a point, at the run and log entry it struck.
    (crash,) = document["faults"]
    assert (crash["kind"], crash["shape"], crash["run_id"]) == (
        "crash",
        "point",
        "order-saga-demo-0-0001",
    )
    assert document["timeline"]["run_id"] == "order-saga-demo-0-0001"
    assert crash["after_seq"] in [e["seq"] for e in document["timeline"]["events"]]


def test_cancel_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSFLOW_LEDGER", str(tmp_path / "effects.db"))
    db = ["--db", f"sqlite:///{tmp_path / 's.db'}"]
    wf = ["--workflow", "examples.order_saga:order_saga"]
    order = json.dumps({"sku": "a", "qty": 1, "amount": 5, "address": "here"})
    assert main(["submit", *db, *wf, "--input", order, "--run-id", "c1"]) == 0
    assert main(["cancel", *db, *wf, "c1", "--reason", "test"]) == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["state"] == "cancelled"
    assert main(["cancel", *db, *wf, "c1"]) == 2
    assert "cannot take event 'cancel' in state 'cancelled'" in capsys.readouterr().err


@pytest.mark.parametrize("verb", [["status", "r1"], ["runs"], ["events"], ["events", "r1"]])
def test_reading_verbs_refuse_a_store_that_does_not_exist(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: list[str]
) -> None:
    store = tmp_path / "typo.db"
    assert main([verb[0], "--db", f"sqlite:///{store}", *verb[1:]]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert not store.exists()


def test_status_and_runs_say_why_a_run_rolled_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSFLOW_LEDGER", str(tmp_path / "effects.db"))
    db = ["--db", f"sqlite:///{tmp_path / 's.db'}"]
    wf = ["--workflow", "examples.order_saga:order_saga"]
    good = json.dumps({"sku": "a", "qty": 1, "amount": 5, "address": "here"})
    bad = json.dumps({"sku": "b", "qty": 1, "amount": 7, "address": "undeliverable"})
    assert main(["submit", *db, *wf, "--input", good, "--run-id", "good"]) == 0
    assert main(["submit", *db, *wf, "--input", bad, "--run-id", "bad"]) == 0
    assert main(["worker", *db, *wf, "--until-idle", "--max-seconds", "30"]) == 0
    capsys.readouterr()

    assert main(["status", *db, "bad"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "rolled_back"
    ship = status["errors"]["ship"]
    assert ship["type"] == "examples.order_saga.ShippingRefused"
    assert (ship["code"], ship["attempt"], ship["definite"]) == ("address_refused", 1, True)
    assert status["failure"]["step"] == "ship"
    assert status["steps"]["ship"] == "failed"  # refused: nothing to call back
    assert status["steps"]["charge_payment"] == "compensated"

    assert main(["runs", *db]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["CREATED", "(UTC)", "STATE"]
    assert [line.split()[1] for line in table[1:]] == ["rolled_back", "completed"]
    assert "step 'ship' failed definitely" in table[1]
    assert main(["runs", *db, "--state", "rolled_back", "--json"]) == 0
    page = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in page["runs"]] == ["bad"] and page["next_cursor"] is None
    assert main(["runs", *db, "--limit", "1"]) == 0
    captured = capsys.readouterr()
    assert "next page: --cursor" in captured.err
    cursor = captured.err.split("--cursor ", 1)[1].strip().strip("'")
    assert main(["runs", *db, "--limit", "1", "--cursor", cursor]) == 0
    assert "good" in capsys.readouterr().out
    assert main(["runs", *db, "--since", "2999-01-01T00:00:00Z"]) == 0
    assert "(no runs match)" in capsys.readouterr().err

    assert main(["runs", *db, "--state", "compensated"]) == 2
    assert "renamed 'rolled_back'" in capsys.readouterr().err
    assert main(["runs", *db, "--since", "yesterday"]) == 2
    assert "--since='yesterday' is not a time" in capsys.readouterr().err


def test_a_worker_waits_for_an_unreachable_store_then_says_so_with_exit_75(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "not-yet" / "s.db"
    result = chaosflow(
        "worker",
        "--db",
        f"sqlite:///{missing}",
        "--workflow",
        "examples.order_saga:order_saga",
        "--store-wait",
        "2",
    )
    assert result.returncode == 75, result.stderr
    assert result.stderr.count("store unreachable, retrying in") == 2  # after 0.5 s and 1 s
    assert "waited 2s for the store" in result.stderr
    assert "Traceback" not in result.stderr
    assert "--store-wait SECONDS" in chaosflow("worker", "--help").stdout

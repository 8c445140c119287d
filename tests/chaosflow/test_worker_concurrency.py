"""``chaosflow worker --concurrency N``: N worker loops in one process, whose runs share commits
(``orchestrator.WorkerPool``; the pool's semantics are tested in ``test_worker_pool.py``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaosflow.cli import main


def test_the_worker_verb_runs_n_loops_sharing_commits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAOSFLOW_LEDGER", str(tmp_path / "effects.db"))
    db = ["--db", f"sqlite:///{tmp_path / 's.db'}"]
    wf = ["--workflow", "examples.order_saga:order_saga"]
    for n in range(6):
        order = json.dumps({"sku": "a", "qty": 1, "amount": 5, "address": f"street {n}"})
        assert main(["submit", *db, *wf, "--input", order, "--run-id", f"r{n}"]) == 0
    capsys.readouterr()
    argv = ["worker", *db, *wf, "--until-idle", "--max-seconds", "60", "--concurrency", "3"]
    assert main([*argv, "--worker-id", "w"]) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["worker_id"] == "w"
    assert printed["workers"] == ["w-0", "w-1", "w-2"]
    for n in range(6):
        assert main(["status", *db, f"r{n}"]) == 0
        assert json.loads(capsys.readouterr().out)["state"] == "completed"

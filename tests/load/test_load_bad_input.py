"""``chaosflow load`` refuses bad input with exit 2 before anything starts, naming the field and
the value, never with a traceback; a harness that cannot start is exit 4, never a verdict."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chaosflow.cli import main
from orchestrator import Orchestrator
from tests.load.conftest import ROOT, write_profile

WINDOW = {
    "kind": "network",
    "target": "store",
    "trigger": {"at": 2},
    "duration": 2,
    "params": {"toxic": "latency", "attributes": {"latency": 10}},
}
PAUSE = {
    "kind": "process",
    "target": "worker-0",
    "trigger": {"at": 2},
    "duration": 2,
    "params": {"action": "sigstop"},
}


def refuse(tmp_path: Path, capsys: pytest.CaptureFixture[str], *flags: str, **fields: Any) -> str:
    profile = write_profile(tmp_path, **fields)
    code = main(["load", str(profile), "--report", str(tmp_path / "out"), *flags])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing ran, nothing was written
    return err


@pytest.mark.parametrize(
    ("fields", "flags", "message"),
    [
        ({"shape": "zigzag"}, (), r"shape='zigzag': kind='zigzag' is not a shape; use one of"),
        ({}, ("--users", "-5"), r"users=-5 \(from --users\): must be greater than"),
        ({}, ("--users", "1000000"), r"users=1000000 \(from --users\)"),
        ({}, ("--duration", "99999"), r"duration_s=99999\.0 \(from --duration\)"),
        (
            {"faults": [{**PAUSE, "trigger": {"at": 5}}]},
            (),
            r"faults\[0\] runs from 5 s to 7 s, outside the run \(duration_s=6\)",
        ),
        ({"faults": [WINDOW]}, (), r"faults\[0\]\.target='store' is not a target of this load"),
        ({"thresholds": {"p42": "< 1"}}, (), r"metric='p42' is not a figure of a load run"),
        ({"workflow": "shop.nowhere:checkout"}, (), r"workflow='shop\.nowhere:checkout' does not"),
    ],
)
def test_bad_input_is_exit_2_naming_the_field_and_value(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    fields: dict[str, Any],
    flags: tuple[str, ...],
    message: str,
) -> None:
    err = refuse(tmp_path, capsys, *flags, **fields)
    assert "chaosflow: error: Load profile" in err
    assert re.search(message, err), err


def test_a_missing_profile_file_is_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["load", str(tmp_path / "nope.yaml")])
    err = capsys.readouterr().err
    assert code == 2
    assert "nope.yaml' cannot be read (No such file or directory)" in err


def test_a_store_that_already_holds_runs_is_refused_before_anything_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from examples.order_saga import DEMO_ORDERS, order_saga

    url = f"sqlite:///{tmp_path / 'used.db'}"
    used = Orchestrator(url)
    used.register(order_saga)
    used.submit(order_saga, DEMO_ORDERS[0])
    used.store.dispose()
    profile = write_profile(tmp_path, store={"url": url})
    code = main(["load", str(profile), "--report", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "already holds 1 run(s); a load run needs an empty database" in err


def test_an_api_that_cannot_start_is_a_harness_failure_not_a_verdict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        profile = write_profile(tmp_path, api={"port": port})
        code = main(["load", str(profile), "--report", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 4, captured.err
    assert "the load harness failed, so there is no verdict" in captured.err
    assert "HTTP API" in captured.err
    assert "verdict:" not in captured.out


def test_the_real_command_prints_no_traceback_for_bad_input(tmp_path: Path) -> None:
    profile = write_profile(tmp_path, users=0)
    done = subprocess.run(
        [sys.executable, "-m", "chaosflow", "load", str(profile)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "users=0: must be greater than or equal to 1" in done.stderr
    assert "usage: chaosflow" in done.stderr and "Traceback" not in done.stderr

"""The command line as a user meets it: --version, output cut short by a pipe, dates kept as text,
a workflow factory called only when marked as one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaosflow.cli import EXIT_BROKEN_PIPE, main
from examples.order_saga import DEMO_ORDERS, order_saga
from orchestrator import Orchestrator, RegistryError, import_workflow

ROOT = Path(__file__).resolve().parents[2]


def _chaosflow(*argv: str, **kwargs: object) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "chaosflow.cli", *argv],
        cwd=ROOT,
        env=env,
        **kwargs,  # type: ignore[call-overload]
    )


def test_version_names_the_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("chaosflow ") and out.strip() != "chaosflow"


def test_events_into_a_closed_pipe_end_quietly(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    orchestrator = Orchestrator(url)
    orchestrator.register(order_saga)
    for n in range(800):  # more event text than a pipe buffers (64 KiB)
        orchestrator.submit("order", DEMO_ORDERS[n % len(DEMO_ORDERS)], run_id=f"run-{n:04d}")
    orchestrator.store.dispose()
    process = _chaosflow("events", "--db", url, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    assert b'"run_submitted"' in first
    process.stdout.close()  # as `head -1` does once it has its line
    err = process.stderr.read().decode()
    process.stderr.close()
    assert process.wait(timeout=300) == EXIT_BROKEN_PIPE, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err


def test_a_yaml_date_in_an_input_is_kept_as_the_text_written(tmp_path: Path) -> None:
    from scenarios import load_scenario_file

    path = tmp_path / "dated.yaml"
    path.write_text(
        "workflow: examples.order_saga:order_saga\ninvariants: [duplicate_effect]\n"
        "inputs: [{sku: a, qty: 1, amount: 5, address: here, day: 2024-01-31, "
        "at: 2024-01-31T10:00:00Z}]\n"
    )
    (run,) = load_scenario_file(path).inputs
    assert run["day"] == "2024-01-31" and run["at"] == "2024-01-31T10:00:00Z"


def test_only_a_marked_factory_is_called() -> None:
    workflow = import_workflow("tests.chaosflow._factories:made_by_factory")
    assert workflow.name == "factory-made"
    with pytest.raises(RegistryError, match=r"names a function, not a Workflow; it is not called"):
        import_workflow("tests.chaosflow._factories:unmarked")
    with pytest.raises(RegistryError, match=r"returned a int, not a Workflow"):
        import_workflow("tests.chaosflow._factories:wrong_factory")
    from tests.chaosflow import _factories

    assert _factories.CALLS == ["made_by_factory", "wrong_factory"]  # unmarked never ran

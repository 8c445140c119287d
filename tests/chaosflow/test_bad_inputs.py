"""Every bad input of the table (``_bad_inputs.py``) is refused: exit 2, a message naming the
field, never a traceback. Each command runs in a process of its own (forked from one that has
imported the CLI, see ``_cli_forks.py``); a few also run as a fresh ``python -m chaosflow.cli``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chaosflow._bad_inputs import TABLE, BadInput

ROOT = Path(__file__).resolve().parents[2]
FORKS = Path(__file__).with_name("_cli_forks.py")


class Forks:
    """The fork server: one command in, one exit status out."""

    def __init__(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("CHAOSFLOW_TOKEN", None)
        self.process = subprocess.Popen(
            [sys.executable, str(FORKS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )

    def run(self, case: BadInput, folder: Path) -> tuple[dict[str, int], str]:
        for name, text in case.files.items():
            (folder / name).write_text(text, encoding="utf-8")
        command = {
            "argv": list(case.argv),
            "cwd": str(folder),
            "out": str(folder / "stdout.txt"),
            "err": str(folder / "stderr.txt"),
        }
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline()
        assert answer, "the fork server died"
        err = (folder / "stderr.txt").read_text(encoding="utf-8", errors="replace")
        return json.loads(answer), err

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=120)
        self.process.stdout.close()


@pytest.fixture(scope="module")
def forks() -> Iterator[Forks]:
    server = Forks()
    try:
        yield server
    finally:
        server.close()


@pytest.mark.parametrize("case", TABLE, ids=[case.id for case in TABLE])
def test_a_bad_input_exits_2_naming_the_field(case: BadInput, forks: Forks, tmp_path: Path) -> None:
    status, err = forks.run(case, tmp_path)
    assert "Traceback" not in err, err
    assert status == {"code": 2}, (status, err)
    assert re.search(case.expect, err, re.DOTALL), f"{case.expect!r} not in: {err}"


def test_the_table_holds_every_example_of_the_issue_and_more() -> None:
    assert len(TABLE) >= 80
    named = {case.id for case in TABLE}
    for example in (
        "scenario-seed-1e400-run",
        "scenario-billion-laughs-run",
        "scenario-workflow-os-abort-run",
        "token-json-list",
        "token-plan-null",
        "option-crash-at-abc",
        "option-lease-seconds-negative",
    ):
        assert example in named


@pytest.mark.parametrize(
    "case",
    [c for c in TABLE if c.id in {"scenario-workflow-os-abort-run", "option-worker-os-abort"}],
    ids=lambda c: c.id,
)
def test_a_fresh_process_ends_the_same(case: BadInput, tmp_path: Path) -> None:
    # The fork server is a shortcut; a real `chaosflow` process must end exactly the same.
    for name, text in case.files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "chaosflow.cli", *case.argv],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 2, done.stderr
    assert re.search(case.expect, done.stderr, re.DOTALL), done.stderr

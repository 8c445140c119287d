"""Helpers for the real load runs: write a profile, run ``chaosflow load``, read what it wrote."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from chaosflow.cli import main
from loadtests import read_record, samples_frame

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class LoadRun:
    """What one ``chaosflow load`` wrote: its exit code, output and report folder."""

    code: int
    out: str
    err: str
    report: Path

    @property
    def result(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.report / "result.json").read_text())
        return data

    @property
    def load(self) -> dict[str, Any]:
        section: dict[str, Any] = self.result["load"]
        return section

    @property
    def processes(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.report / "logs" / "processes.json").read_text())
        return data

    def samples(self) -> Any:
        return samples_frame(read_record(self.report))

    def checkers(self) -> dict[str, str]:
        """Each invariant's verdict, and the thresholds' as ``thresholds`` when there are any."""
        verdicts = {c["name"]: c["verdict"] for c in self.result["invariants"]}
        thresholds = self.load["thresholds"]
        if thresholds:
            broken = any(t["passed"] is False for t in thresholds)
            verdicts["thresholds"] = "invalid" if broken else "valid"
        return verdicts


def write_profile(folder: Path, **fields: Any) -> Path:
    """A load profile of the order saga on SQLite, small and short, with ``fields`` over it."""
    data: dict[str, Any] = {
        "name": "load-test",
        "workflow": "examples.order_saga:order_saga",
        "inputs": {"generator": "examples.order_load:random_order"},
        "shape": "steady",
        "users": 4,
        "duration_s": 6,
        "workers": 2,
        "drain_s": 10,
        "progress_bound_s": 60,
        **fields,
    }
    path = folder / "profile.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def run_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., LoadRun]:
    """``chaosflow load`` in this process (its children are forked from it, Locust is not)."""
    monkeypatch.chdir(ROOT)  # Locust imports the project's modules from the working directory

    def run(**fields: Any) -> LoadRun:
        profile = write_profile(tmp_path, **fields)
        report = tmp_path / "report"
        code = main(["load", str(profile), "--report", str(report)])
        captured = capsys.readouterr()
        return LoadRun(code, captured.out, captured.err, report)

    return run


def alive(pid: int) -> bool:
    """Whether a process ``pid`` runs (a zombie counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status


def left_running(run: LoadRun) -> list[str]:
    """Every process the load started that still runs, and a Toxiproxy still listening."""
    found = run.processes
    pids = [found["api"], *found["workers"], *found["services"].values(), *found["locust"]]
    leftovers = [f"pid {pid}" for pid in pids if pid and alive(pid)]
    if found["toxiproxy"]:
        port = int(found["toxiproxy"].rsplit(":", 1)[1])
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                leftovers.append(f"toxiproxy on {port}")
    return leftovers


@pytest.fixture
def no_leftover_processes() -> Iterator[None]:
    """Fail if this test leaves a child process behind (a fork that never ended)."""
    before = set(os.listdir("/proc"))
    yield
    children = [
        p
        for p in set(os.listdir("/proc")) - before
        if p.isdigit() and alive(int(p)) and _parent(int(p)) == os.getpid()
    ]
    assert not children, f"the load left child processes running: {children}"


def _parent(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None

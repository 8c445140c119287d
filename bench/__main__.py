"""``make bench``: chaosflow against DBOS on the same workloads and stores, and the limits.

Run as ``python -m bench [--quick] [--reps N] [--out DIR]`` from the repository root, with
DBOS installed in ``.bench-venv`` (``make bench`` does both). A throwaway PostgreSQL cluster is
started for the run (as the tests start theirs) and removed afterwards. Every measurement is a
process of its own on a fresh database; within a repetition the two systems alternate (which
goes first swaps every repetition), so a machine that slows down mid-run colours both. The
figures are printed and written to ``DIR/results.json`` as medians of the repetitions with
their spread, and the ratios chaosflow/DBOS and chaosflow/raw are medians of the ratios taken
within each repetition.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ._report import summarise, table

ROOT = Path(__file__).resolve().parent.parent
CHAOSFLOW_PYTHON = sys.executable
DBOS_PYTHON = str(ROOT / ".bench-venv" / "bin" / "python")

# (workload, runs in a full bench, runs in a quick one)
WORKLOADS = [
    ("serial", 50, 20),
    ("concurrent", 80, 40),
    ("fanout", 30, 12),
    ("saga", 30, 12),
]
QUEUED = (10_000, 1_000)
RSS_STEPS = (100_000, 10_000)
RAW_COMMITS = (2_000, 1_000)
KILLS = (5, 3)


class BenchError(Exception):
    """A measurement could not be taken (its process failed): no figure is made up for it."""


def _measure(python: str, module: str, spec: dict[str, Any], timeout: float = 3600) -> Any:
    command = [python, "-m", module, json.dumps(spec)]
    # A session of its own: an interrupted or timed-out measurement takes its own children
    # (drain workers, standby workers) down with it.
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except BaseException:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        raise
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if process.returncode != 0 or not lines:
        raise BenchError(
            f"{module} {spec.get('workload', '')} on {spec.get('url', '')} failed with exit "
            f"code {process.returncode}: {stderr[-3000:]}"
        )
    return json.loads(lines[-1])


class Stores:
    """Fresh databases: SQLite files in a temp folder, databases on the throwaway cluster."""

    def __init__(self, folder: Path, cluster: Any) -> None:
        self.folder = folder
        self.cluster = cluster
        self._count = 0

    def fresh(self, store: str) -> str:
        """A URL for a new, empty database of kind ``store``."""
        self._count += 1
        name = f"bench{self._count}"
        if store == "sqlite":
            return f"sqlite:///{self.folder / name}.db"
        import psycopg

        admin = self.cluster.database_url("postgres").replace("postgresql+psycopg", "postgresql")
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return str(self.cluster.database_url(name))


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    """Every measurement, in order; the raw figures per repetition."""
    from faults import LocalPostgresCluster

    quick = 1 if arguments.quick else 0
    raw: list[dict[str, Any]] = []
    samples: list[dict[str, Any]] = []
    extra: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="chaosflow-bench-", dir=arguments.tmp) as folder,
        LocalPostgresCluster() as cluster,
    ):
        stores = Stores(Path(folder), cluster)
        for rep in range(arguments.reps):
            for store in ("sqlite", "postgres"):
                spec = {"url": stores.fresh(store), "runs": RAW_COMMITS[quick]}
                raw.append(
                    {"rep": rep, "store": store, **_measure(CHAOSFLOW_PYTHON, "bench._raw", spec)}
                )
                _progress(f"rep {rep} {store} raw {raw[-1]['commits_per_s']} commits/s")
                workloads = (
                    [*WORKLOADS, ("queued", *QUEUED)] if rep < arguments.queued_reps else WORKLOADS
                )
                for workload, full, small in workloads:
                    systems = [("chaosflow", CHAOSFLOW_PYTHON), ("dbos", DBOS_PYTHON)]
                    for system, python in systems if rep % 2 == 0 else systems[::-1]:
                        spec = {
                            "workload": workload,
                            "url": stores.fresh(store),
                            "runs": (full, small)[quick],
                        }
                        figures = _measure(python, f"bench._{system}", spec)
                        samples.append(
                            {
                                "rep": rep,
                                "store": store,
                                "workload": workload,
                                "system": system,
                                **figures,
                            }
                        )
                        _progress(
                            f"rep {rep} {store} {workload} {system}: "
                            f"{figures['steps_per_s']} steps/s, p99 {figures['p99_s']} s"
                        )
        spec = {"url": stores.fresh("sqlite"), "runs": KILLS[quick], "lease": 2.0}
        extra["recovery"] = {"sqlite": _measure(CHAOSFLOW_PYTHON, "bench._recovery", spec)}
        _progress(f"recovery {extra['recovery']}")
        spec = {"workload": "rss", "url": stores.fresh("sqlite"), "runs": RSS_STEPS[quick]}
        extra["worker_rss"] = {"sqlite": _measure(CHAOSFLOW_PYTHON, "bench._chaosflow", spec)}
        _progress(f"rss {extra['worker_rss']}")
    extra["simulation"] = _measure(CHAOSFLOW_PYTHON, "bench._simulation", {"runs": 0})
    _progress(f"simulation {extra['simulation']}")
    return {"raw": raw, "samples": samples, **extra}


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main() -> int:
    """Parse the options, measure, print the table and write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller workloads (a few minutes)")
    parser.add_argument("--reps", type=int, default=3, help="repetitions (default 3)")
    parser.add_argument(
        "--queued-reps", type=int, default=1, help="repetitions of the queued drain (default 1)"
    )
    parser.add_argument("--out", default="bench-out", help="folder for results.json")
    parser.add_argument("--tmp", default=None, help="folder for the SQLite files (on disk)")
    arguments = parser.parse_args()
    if arguments.reps < 1:
        parser.error(f"--reps={arguments.reps!r} must be at least 1")
    if not Path(DBOS_PYTHON).exists():
        parser.error(f"DBOS's environment {DBOS_PYTHON!r} is missing: run `make bench`")
    started = time.time()
    measured = run(arguments)
    result = {
        "schema": "chaosflow-bench/1",
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "started_at": started,
        "seconds": round(time.time() - started, 1),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "system": platform.platform(),
        },
        "settings": {
            "reps": arguments.reps,
            "quick": arguments.quick,
            "queued_reps": arguments.queued_reps,
        },
        **summarise(measured),
        "measurements": measured,
    }
    out = ROOT / arguments.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"\nwritten to {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except BenchError as error:
        print(f"bench: {error}", file=sys.stderr)
        raise SystemExit(4) from None

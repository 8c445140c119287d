"""DBOS's side of the bench, run with DBOS's own environment (``.bench-venv``).

``python -m bench._dbos SPEC`` prints one JSON line of figures for the same workloads as
``bench._chaosflow``: a workflow of ten steps (each ``x + 1``, each checkpointed before the next
starts), run in the calling thread (DBOS's ordinary way); eight runs at once from eight threads;
ten parallel steps as ten child workflows started at once; the saga whose last step fails and
whose nine compensations are steps too; and one-step runs enqueued first, then drained by two
processes. On SQLite the file is put in WAL mode first, with synchronous=FULL, as chaosflow's.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from typing import Any

from dbos import DBOS, DBOSClient, EnqueueOptions

from ._common import (
    CONCURRENCY,
    FAN_OUT,
    STEPS,
    Stopwatch,
    emit,
    figures,
    spec_from_argv,
)

QUEUE = "bench"


class Refused(Exception):
    """The saga's last step refuses."""


@DBOS.step()
def increment(x: int) -> int:
    return x + 1


@DBOS.step()
def undo(_x: int) -> None:
    return None


@DBOS.step()
def refuse(_x: int) -> int:
    raise Refused("the last step refuses")


@DBOS.workflow()
def sequential(x: int) -> int:
    for _ in range(STEPS):
        x = increment(x)
    return x


@DBOS.workflow()
def branch(x: int) -> int:
    return increment(x)


@DBOS.workflow()
def fan_out(x: int) -> list[int]:
    handles = [DBOS.start_workflow(branch, x + n) for n in range(FAN_OUT)]
    return [handle.get_result() for handle in handles]


@DBOS.workflow()
def saga(x: int) -> str:
    done: list[int] = []
    try:
        for n in range(STEPS):
            x = refuse(x) if n == STEPS - 1 else increment(x)
            done.append(x)
    except Refused:
        for value in reversed(done):
            undo(value)
        return "rolled_back"
    return "completed"


@DBOS.workflow()
def single(x: int) -> int:
    return increment(x)


def prepare_sqlite(url: str) -> None:
    """Put the SQLite file in WAL mode (a property of the file), as chaosflow's store is."""
    path = url.removeprefix("sqlite:///")
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.close()


def launch(url: str, *, pool: int = 20, executor: str = "bench") -> None:
    """Configure and launch DBOS on ``url`` (SQLite's default synchronous level is FULL)."""
    if url.startswith("sqlite"):
        prepare_sqlite(url)
    DBOS(
        config={
            "name": "chaosflow-bench",
            "system_database_url": url,
            "sys_db_pool_size": pool,
            "log_level": "WARNING",
            "run_admin_server": False,
            # Each process its own executor, or each would recover the other's workflows.
            "executor_id": executor,
        }  # type: ignore[typeddict-unknown-key]
    )
    DBOS.launch()


def sqlite_pragmas() -> dict[str, Any]:
    """The journal mode and synchronous level DBOS's own engine runs with (FULL is 2)."""
    from dbos._dbos import _get_dbos_instance
    from sqlalchemy import text

    engine = _get_dbos_instance()._sys_db.engine
    with engine.connect() as conn:
        journal = conn.execute(text("PRAGMA journal_mode")).scalar()
        synchronous = conn.execute(text("PRAGMA synchronous")).scalar()
    return {"journal_mode": journal, "synchronous": synchronous}


WORKFLOWS = {"serial": sequential, "concurrent": sequential, "fanout": fan_out, "saga": saga}


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the workload ``spec`` names and return its figures."""
    workload, url, runs = spec["workload"], spec["url"], int(spec["runs"])
    if workload == "queued":
        return queued(url, runs)
    launch(url)
    workflow = WORKFLOWS[workload]
    steps_per_run = {"fanout": FAN_OUT, "saga": 2 * STEPS - 1}.get(workload, STEPS)
    concurrency = CONCURRENCY if workload == "concurrent" else 1
    latencies: list[float] = []
    lock = threading.Lock()

    def client(share: int, offset: int) -> None:
        for n in range(share):
            started = time.perf_counter()
            workflow(offset + n)
            with lock:
                latencies.append(time.perf_counter() - started)

    workflow(-1)  # warm
    watch = Stopwatch()
    threads = [
        threading.Thread(target=client, args=(runs // concurrency, c * runs))
        for c in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = watch.elapsed()
    result = figures(
        runs=len(latencies), steps_per_run=steps_per_run, seconds=seconds, latencies=latencies
    )
    if url.startswith("sqlite"):
        result["sqlite"] = sqlite_pragmas()
    DBOS.destroy()
    return result


def queued(url: str, runs: int) -> dict[str, Any]:
    """``runs`` one-step workflows enqueued first, then drained by two DBOS processes."""
    launch(url)
    DBOS.register_queue(QUEUE, worker_concurrency=CONCURRENCY, polling_interval_sec=0.05)
    DBOS.destroy()
    client = DBOSClient(system_database_url=url)
    options: EnqueueOptions = {"workflow_name": single.__qualname__, "queue_name": QUEUE}
    for n in range(runs):
        client.enqueue(options, n)
    client.destroy()
    watch = Stopwatch()
    command = [sys.executable, "-m", "bench._dbos", "drain", url]
    workers = [subprocess.Popen(command, env=os.environ.copy()) for _ in range(2)]
    try:
        # The drain is over when nothing is left queued or running: one cheap query (a row at
        # most) every 50 ms, from here, so the drain processes spend nothing on watching.
        watcher = DBOSClient(system_database_url=url)
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            if any(worker.poll() is not None for worker in workers):
                raise RuntimeError("a DBOS drain process ended before the queue was drained")
            left = watcher.list_workflows(
                status=["ENQUEUED", "PENDING"], limit=1, load_input=False, load_output=False
            )
            if not left:
                break
            time.sleep(0.05)
        seconds = watch.elapsed()
        done = watcher.list_workflows(status="SUCCESS", load_input=False, load_output=False)
        watcher.destroy()
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(60)
    if len(done) < runs:
        raise RuntimeError(f"only {len(done)} of {runs} queued workflows succeeded")
    return figures(runs=runs, steps_per_run=1, seconds=seconds, latencies=[])


def drain(url: str) -> None:
    """One drain process: run queued workflows until it is told to stop (SIGTERM)."""
    launch(url, executor=f"drain-{os.getpid()}")
    DBOS.register_queue(QUEUE, worker_concurrency=CONCURRENCY, polling_interval_sec=0.05)
    time.sleep(1800)


if __name__ == "__main__":
    if sys.argv[1] == "drain":
        drain(sys.argv[2])
    else:
        emit(measure(spec_from_argv()))

"""chaosflow's side of the bench: one workload on one store, measured in this process.

``python -m bench._chaosflow SPEC`` (SPEC: JSON with ``workload``, ``url``, ``runs``) prints one
JSON line of figures. Workers run in threads of this process with a doorbell that commits ring
(what an embedding application does); the queued workload drains with worker processes.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from orchestrator import (
    FAILURE_LOGGER,
    HookEvent,
    HookPoint,
    Orchestrator,
    RetryPolicy,
    Step,
    StepContext,
    WorkerPool,
    Workflow,
)

from ._common import (
    CONCURRENCY,
    FAN_OUT,
    STEPS,
    Stopwatch,
    current_rss_mb,
    emit,
    figures,
    spec_from_argv,
)


class Refused(Exception):
    """The saga's last step refuses: a definite, non-retryable failure."""


def _increment(previous: str | None) -> Callable[[StepContext], int]:
    def action(context: StepContext) -> int:
        base = context.input["x"] if previous is None else context.results[previous]
        return int(base) + 1

    return action


def _undo(_context: StepContext) -> None:
    return None


def _refuse(_context: StepContext) -> int:
    raise Refused("the last step refuses")


def sequential(name: str = "seq10") -> Workflow:
    """Ten steps in a line, each returning its predecessor's result plus one."""
    return Workflow(
        name,
        [
            Step(f"s{i}", _increment(f"s{i - 1}" if i else None), after=(f"s{i - 1}",) if i else ())
            for i in range(STEPS)
        ],
    )


def fan_out() -> Workflow:
    """Ten independent steps: all ready at once."""
    return Workflow("fan10", [Step(f"p{i}", _increment(None)) for i in range(FAN_OUT)])


def failing_saga() -> Workflow:
    """Ten steps with compensations whose last refuses: nine compensations follow."""
    no_retry = RetryPolicy(max_attempts=1, non_retryable=(Refused,))
    steps = [
        Step(
            f"s{i}",
            _refuse if i == STEPS - 1 else _increment(f"s{i - 1}" if i else None),
            _undo,
            after=(f"s{i - 1}",) if i else (),
            retry=no_retry,
            definite_errors=(Refused,),
        )
        for i in range(STEPS)
    ]
    return Workflow("saga10", steps)


def single() -> Workflow:
    """One step: what the queued workload drains."""
    return Workflow("one", [Step("s0", _increment(None))])


WORKFLOWS = {"serial": sequential, "concurrent": sequential, "fanout": fan_out}


class Harness:
    """An orchestrator with ``workers`` worker threads and a finish signal per run."""

    def __init__(
        self,
        url: str,
        workflow: Workflow,
        workers: int,
        group_commit: bool | None = None,
        **settings: Any,
    ) -> None:
        # By default what `chaosflow worker --concurrency N` does: several workers in one
        # process share commits on SQLite (group commit), and keep a connection each on
        # PostgreSQL; the spec's ``group_commit`` forces either.
        self.orchestrator = Orchestrator(url, concurrency=workers, group_commit=group_commit)
        self.group_commit = self.orchestrator.store.group is not None
        self.orchestrator.register(workflow)
        self.workflow = workflow
        self._finished: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self.orchestrator.hooks.add_listener(self._on_event)
        # The workers of `chaosflow worker --concurrency N`: one process's loops sharing a
        # doorbell, a heartbeat and (with group commit) their commits.
        self.pool = WorkerPool(self.orchestrator, workers, worker_id="bench", **settings)
        self.doorbell = self.pool.doorbell
        self.stop = threading.Event()
        self.threads = [
            threading.Thread(
                target=self.pool.run,
                kwargs={"max_seconds": 3600, "stop_event": self.stop},
                daemon=True,
            )
        ]
        for thread in self.threads:
            thread.start()

    def _on_event(self, event: HookEvent) -> None:
        if event.point == HookPoint.RUN_FINISHED:
            with self._lock:
                signal = self._finished.setdefault(event.run_id, threading.Event())
            signal.set()

    def run_one(self, x: int) -> float:
        """Submit a run and wait until a worker finished it; its latency in seconds."""
        started = time.perf_counter()
        run_id = self.orchestrator.submit(self.workflow, {"x": x})
        with self._lock:
            signal = self._finished.setdefault(run_id, threading.Event())
        if not signal.wait(120):
            raise RuntimeError(f"run {run_id!r} did not finish within 120 s")
        with self._lock:
            # Forgotten once seen: a signal kept per run would grow the process by a kilobyte
            # a run, and the RSS measurement would report the harness, not the worker.
            del self._finished[run_id]
        return time.perf_counter() - started

    def close(self) -> None:
        """Stop the workers and close the store."""
        self.stop.set()
        self.doorbell.ring()
        for thread in self.threads:
            thread.join(30)
        self.orchestrator.store.dispose()


def clients(harness: Harness, runs: int, concurrency: int) -> tuple[float, list[float]]:
    """``concurrency`` client threads, each running its share of ``runs`` one after another."""
    latencies: list[float] = []
    lock = threading.Lock()

    def client(share: int, offset: int) -> None:
        for n in range(share):
            latency = harness.run_one(offset + n)
            with lock:
                latencies.append(latency)

    harness.run_one(-1)  # warm: connections, compiled statements
    watch = Stopwatch()
    threads = [
        threading.Thread(target=client, args=(runs // concurrency, c * runs))
        for c in range(concurrency)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return watch.elapsed(), latencies


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the workload ``spec`` names and return its figures."""
    workload, url, runs = spec["workload"], spec["url"], int(spec["runs"])
    if workload == "queued":
        return queued(url, runs)
    if workload == "rss":
        return rss(url, runs)
    if workload == "saga":
        workflow, steps_per_run, workers, concurrency = failing_saga(), 2 * STEPS - 1, 1, 1
    else:
        workflow = WORKFLOWS[workload]()
        steps_per_run = FAN_OUT if workload == "fanout" else STEPS
        workers = 1 if workload == "serial" else CONCURRENCY
        concurrency = CONCURRENCY if workload == "concurrent" else 1
    harness = Harness(url, workflow, workers, spec.get("group_commit"))
    try:
        seconds, latencies = clients(harness, runs, concurrency)
        group = harness.orchestrator.store.group
        shared = (
            {"group_commit": {"bodies": group.bodies, "commits": group.commits}} if group else {}
        )
    finally:
        harness.close()
    return {
        **figures(
            runs=len(latencies), steps_per_run=steps_per_run, seconds=seconds, latencies=latencies
        ),
        **shared,
    }


def queued(url: str, runs: int) -> dict[str, Any]:
    """``runs`` one-step runs submitted first, then drained by two worker processes."""
    orchestrator = Orchestrator(url)
    orchestrator.register(single())
    for n in range(runs):
        orchestrator.submit("one", {"x": n})
    orchestrator.store.dispose()
    watch = Stopwatch()
    command = [sys.executable, "-m", "bench._chaosflow_drain", url]
    workers = [subprocess.Popen(command, env=os.environ.copy()) for _ in range(2)]
    codes = [worker.wait(timeout=1800) for worker in workers]
    seconds = watch.elapsed()
    if any(codes):
        raise RuntimeError(f"a drain worker failed: exit codes {codes}")
    left = Orchestrator(url)
    unfinished = left.unfinished_runs()
    left.store.dispose()
    if unfinished:
        raise RuntimeError(f"{unfinished} runs were left unfinished by the drain")
    return figures(runs=runs, steps_per_run=1, seconds=seconds, latencies=[])


def rss(url: str, steps: int) -> dict[str, Any]:
    """A worker's resident memory over ``steps`` steps, sampled every 1,000 steps.

    Flat memory is the target: the first sample against the last (and, since the first
    thousand steps fill caches that then stay, the sample after a tenth of the steps too).
    """
    harness = Harness(url, sequential(), 1)
    samples: list[tuple[int, float]] = []
    watch = Stopwatch()
    try:
        for n in range(max(steps // STEPS, 1)):
            harness.run_one(n)
            if (n + 1) % (1000 // STEPS) == 0 or n == 0:
                samples.append(((n + 1) * STEPS, round(current_rss_mb(), 2)))
    finally:
        harness.close()
    seconds = watch.elapsed()
    first, last = samples[0], samples[-1]
    warm = samples[min(len(samples) - 1, max(len(samples) // 10, 1))]
    return {
        "steps": steps,
        "seconds": round(seconds, 1),
        "rss_first_mb": first[1],
        "rss_last_mb": last[1],
        "growth_first_to_last_mb": round(last[1] - first[1], 2),
        "rss_after_warmup_mb": warm[1],
        "rss_end_mb": last[1],
        "growth_mb": round(last[1] - warm[1], 2),
        "warmup_steps": warm[0],
        "samples": samples,
    }


if __name__ == "__main__":
    # The saga's refusals are expected: one log line each would only slow the bench.
    logging.getLogger(FAILURE_LOGGER).setLevel(logging.ERROR)
    emit(measure(spec_from_argv()))

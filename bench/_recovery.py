"""Recovery after SIGKILL, against the lease: how long a step held by a killed worker waits.

A worker process claims a step whose first attempt hangs, a second worker process stands by,
the first is killed with SIGKILL; the time from the kill to the second worker's reclaim is
compared with the lease (the target: within the lease plus one second). ``python -m
bench._recovery SPEC`` (``url``, ``runs`` kills, ``lease``) prints the takeovers.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from orchestrator import Orchestrator, Step, StepContext, Workflow

from ._common import emit, percentile, spec_from_argv


def _hang_first(context: StepContext) -> int:
    if context.attempt == 1:
        time.sleep(600)  # the killed worker's attempt: never answers
    return 1


WORKFLOW = Workflow("hang", [Step("s0", _hang_first)])


def _wait_for(orchestrator: Orchestrator, run_id: str, kind: str, count: int) -> Any:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [event for event in orchestrator.events(run_id) if event.kind == kind]
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.01)
    raise RuntimeError(f"no {kind!r} event #{count} for run {run_id!r} within 60 s")


def worker(url: str, lease: float) -> None:
    """A worker process: announces itself on stdout, then works until killed or done."""
    orchestrator = Orchestrator(url)
    orchestrator.register(WORKFLOW)
    print("ready", flush=True)
    orchestrator.worker(lease_seconds=lease).run(max_seconds=120)


def takeover(url: str, lease: float) -> float:
    """One kill: seconds from the SIGKILL to the standby's reclaim of the step."""
    orchestrator = Orchestrator(url)
    orchestrator.register(WORKFLOW)
    command = [sys.executable, "-m", "bench._recovery", "worker", url, str(lease)]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    run_id = orchestrator.submit("hang", {})
    _wait_for(orchestrator, run_id, "step_claimed", 1)
    second = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert second.stdout is not None and second.stdout.readline().strip() == "ready"
        killed_at = time.time()
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        reclaim = _wait_for(orchestrator, run_id, "step_claimed", 2)
        return float(reclaim.at) - killed_at
    finally:
        for process in (first, second):
            if process.poll() is None:
                process.kill()
            process.wait()
        orchestrator.store.dispose()


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Several kills, each on a fresh run; their takeover times and the p99 against the lease."""
    url, kills, lease = spec["url"], int(spec["runs"]), float(spec.get("lease", 2.0))
    times = [takeover(url, lease) for _ in range(kills)]
    p99 = percentile(times, 0.99)
    return {
        "lease_s": lease,
        "kills": kills,
        "takeover_s": [round(t, 3) for t in times],
        "p99_s": round(p99, 3),
        "p99_over_lease": round(p99 / lease, 3),
        "within_lease_plus_1s": p99 <= lease + 1.0,
    }


if __name__ == "__main__":
    if sys.argv[1] == "worker":
        worker(sys.argv[2], float(sys.argv[3]))
    else:
        emit(measure(spec_from_argv()))

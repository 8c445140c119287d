"""One worker process of the queued workload: drains the store's runs, then exits."""

from __future__ import annotations

import sys

from orchestrator import Orchestrator

from ._chaosflow import single

if __name__ == "__main__":
    orchestrator = Orchestrator(sys.argv[1])
    orchestrator.register(single())
    worker = orchestrator.worker()
    worker.run(max_seconds=1800, stop_when=lambda: orchestrator.unfinished_runs() == 0)
    orchestrator.store.dispose()

"""The entry points of a load run's own processes: a worker, and the HTTP API.

``chaosflow load`` forks each of them from its own process (as real mode does, past the imports,
so a SIGKILLed worker's replacement starts at once) and calls these with argv. Each builds an
orchestrator of its own on the run's store and registers the workflow by ``module:attr``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

from orchestrator import Orchestrator, import_workflow, serve_http


def _orchestrator(db: str, workflow: str) -> Orchestrator:
    orchestrator = Orchestrator(db, create_schema=False)
    orchestrator.register(import_workflow(workflow))
    return orchestrator


def worker_main(argv: Sequence[str]) -> int:
    """Work until the stop file appears (and nothing is claimable), the parent is gone, or
    ``--max-seconds`` pass."""
    parser = argparse.ArgumentParser(prog="chaosflow-load-worker")
    parser.add_argument("--db", required=True)
    parser.add_argument("--workflow", required=True)
    parser.add_argument("--worker-id", required=True)
    parser.add_argument("--stop-file", required=True)
    parser.add_argument("--lease-seconds", type=float, required=True)
    parser.add_argument("--max-seconds", type=float, required=True)
    args = parser.parse_args(argv)
    orchestrator = _orchestrator(args.db, args.workflow)
    stop_file, parent = Path(args.stop_file), os.getppid()
    worker = orchestrator.worker(worker_id=args.worker_id, lease_seconds=args.lease_seconds)
    try:
        worker.run(
            max_seconds=args.max_seconds,
            stop_when=lambda: stop_file.exists() or os.getppid() != parent,
        )
    finally:
        orchestrator.store.dispose()
    return 0


def api_main(argv: Sequence[str]) -> int:
    """Serve the HTTP API (no worker threads: the workers are processes of their own)."""
    parser = argparse.ArgumentParser(prog="chaosflow-load-api")
    parser.add_argument("--db", required=True)
    parser.add_argument("--workflow", required=True)
    parser.add_argument("--host", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default=None)
    parser.add_argument("--max-seconds", type=float, required=True)
    args = parser.parse_args(argv)
    orchestrator = _orchestrator(args.db, args.workflow)
    try:
        serve_http(
            orchestrator,
            host=args.host,
            port=args.port,
            token=args.token,
            workers=0,
            max_seconds=args.max_seconds,
        )
    finally:
        orchestrator.store.dispose()
    return 0

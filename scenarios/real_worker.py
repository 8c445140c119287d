"""One worker process of a real-mode run: ``python -m scenarios.real_worker ...``.

Started by the real-mode runner (``scenarios._real``), not by hand. It builds an orchestrator on
the run's store, registers the workflow by ``module:attribute``, installs the faults of the plan
that strike inside a worker, and works until the runner's stop file appears, its time runs out,
or its parent is gone:

- crash faults: a SIGKILL of this very process at the hook point. The trigger counts across all
  the run's worker processes, so the n-th matching event of the whole run strikes once, as in the
  simulation, and a replacement worker does not crash again. The crash is journalled first;
- network, partition and process faults aimed at a hook point: the worker that reaches it
  asks the runner to strike the fault and waits until it is in force (``real._aimed``);
- step and store faults: the same injectors as the simulation, on this process's own calls and
  engine. Their counts (a transient fault's attempts) are per process. What struck is journalled
  when the worker stops.

The runner forks it from its own process (already past the imports, so a replacement worker
starts at once) and calls :func:`main` with its arguments; ``python -m`` runs the same code.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import OperationalError

from faults import FaultPlan, Nemesis, StepFaultInjector, StoreFaultInjector
from orchestrator import Orchestrator, StoreError, import_workflow

from .real._aimed import AimedFault, is_aimed
from .real._fault_journal import WORKER_KINDS, SharedCrash, append_journal


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m scenarios.real_worker")
    parser.add_argument("--db", required=True, help="the run's store URL")
    parser.add_argument("--workflow", required=True, metavar="MODULE:ATTR")
    parser.add_argument("--slot", required=True, help="the worker's name, e.g. worker-0")
    parser.add_argument("--generation", type=int, default=1)
    parser.add_argument("--plan", required=True, help="the fault plan as a JSON file")
    parser.add_argument("--folder", required=True, help="the run's folder (handshake, journal)")
    parser.add_argument("--origin", type=float, required=True, help="wall time of the start")
    parser.add_argument("--heal-after", type=float, required=True)
    parser.add_argument("--lease-seconds", type=float, required=True)
    parser.add_argument("--max-seconds", type=float, required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--aimed-wait", type=float, default=60.0, help="longest wait for an aimed fault"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Work until the stop file appears, ``--max-seconds`` pass, or the parent is gone."""
    args = _parser().parse_args(argv)
    folder = Path(args.folder)
    journal, stop_file = folder / "faults.jsonl", folder / "stop"
    parent, deadline = os.getppid(), time.time() + args.max_seconds
    plan = FaultPlan.from_dict(json.loads(Path(args.plan).read_text()))
    orchestrator = Orchestrator(args.db, create_schema=False)
    orchestrator.register(import_workflow(args.workflow))

    def give_up() -> bool:
        return stop_file.exists() or os.getppid() != parent

    slot, generation, origin = args.slot, args.generation, args.origin
    runs_file = folder / "runs.json"
    runs = json.loads(runs_file.read_text()) if runs_file.exists() else []
    # Aimed faults first: at one hook point the runner's fault is in force before a crash.
    for index, fault in enumerate(plan.faults):
        if is_aimed(fault):
            aimed = AimedFault(
                index,
                fault,
                folder,
                seed=plan.seed,
                slot=slot,
                runs=runs,
                wait_seconds=args.aimed_wait,
            )
            orchestrator.hooks.add_listener(aimed)
    for index, fault in enumerate(plan.faults):
        if fault.kind == "crash":
            orchestrator.hooks.add_listener(SharedCrash(index, fault, folder, journal, plan.seed))
    inside = FaultPlan(tuple(f for f in plan.faults if f.kind in WORKER_KINDS), plan.seed)
    seed = args.seed * 7919 + generation
    step_faults = StepFaultInjector(seed=seed)
    store_faults = StoreFaultInjector(orchestrator.store.engine, seed=seed)
    nemesis = Nemesis(inside, {"step": step_faults, "store": store_faults}, origin=origin)
    orchestrator.hooks.add_listener(nemesis)
    orchestrator.hooks.add_interceptor(step_faults)
    worker = orchestrator.worker(
        worker_id=f"{slot}.{generation}@pid{os.getpid()}",
        lease_seconds=args.lease_seconds,
        seed=seed,
    )
    healed, backoff = False, worker.poll_interval
    try:
        while time.time() < deadline and not give_up():
            now = time.time()
            if not healed and now >= origin + args.heal_after:
                nemesis.heal_all(now)
                healed = True
            nemesis.tick(now)
            try:
                if worker.tick():
                    backoff = worker.poll_interval
                    continue
            except (OperationalError, StoreError):
                # As Worker.run does: a store that cannot be reached is retried with backoff.
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            time.sleep(worker.poll_interval)
    finally:
        nemesis.heal_all(time.time())
        store_faults.remove()
        for record in nemesis.timeline:
            append_journal(journal, record)
        orchestrator.store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())

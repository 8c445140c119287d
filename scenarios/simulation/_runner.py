"""Run a scenario in one process: seeded logical workers, a virtual clock, in-process faults.

The orchestrator runs for real on a SQLite file; faults attach to its hooks; a worker that
crashes is dropped (its lease stays behind, as a dead process's would) and a fresh worker takes
its place, so recovery goes through lease expiry exactly as it does across processes.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from faults import (
    ClockFaultInjector,
    Nemesis,
    NetworkTwin,
    SimulatedCrash,
    SkewedClock,
    StepFaultInjector,
    StoreFaultInjector,
)
from orchestrator import ManualClock, Orchestrator, Worker

from .._errors import ScenarioDefinitionError
from .._outcome import ScenarioOutcome, judge
from .._scenario import Scenario
from ..effects import LEDGER_ENV, EffectLedger


@contextmanager
def _ledger_env(path: Path) -> Iterator[None]:
    previous = os.environ.get(LEDGER_ENV)
    os.environ[LEDGER_ENV] = str(path)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(LEDGER_ENV, None)
        else:
            os.environ[LEDGER_ENV] = previous


def run_in_process(
    scenario: Scenario, workdir: str | os.PathLike[str] | None = None
) -> ScenarioOutcome:
    """Run ``scenario`` on a SQLite file in ``workdir`` (a temp dir by default) and judge it."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="chaosflow-") as tmp:
            return run_in_process(scenario, tmp)
    folder = Path(workdir)
    folder.mkdir(parents=True, exist_ok=True)
    started_wall = time.perf_counter()
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    ledger = EffectLedger(folder / "effects.db")
    clock = ManualClock(start=ORIGIN)
    orchestrator = Orchestrator(f"sqlite:///{folder / 'store.db'}", clock=clock)
    orchestrator.register(scenario.workflow)
    pool = _WorkerPool(orchestrator, scenario, clock)
    step_faults = StepFaultInjector(seed=scenario.seed)
    network = NetworkTwin(scenario.routes, seed=scenario.seed)
    store_faults = StoreFaultInjector(orchestrator.store.engine, seed=scenario.seed)
    nemesis = Nemesis(
        scenario.plan,
        {
            "step": step_faults,
            "network": network,
            "partition": network,
            "clock": ClockFaultInjector(pool.clocks),
            "process": pool,
            "store": store_faults,
        },
        origin=ORIGIN,
    )
    orchestrator.hooks.add_listener(nemesis)
    orchestrator.hooks.add_interceptor(network)
    orchestrator.hooks.add_interceptor(step_faults)
    acknowledged: list[str] = []
    try:
        with _ledger_env(ledger.path):
            for index, payload in enumerate(scenario.inputs):
                run_id = f"{scenario.name}-{scenario.seed}-{index:04d}"
                acknowledged.append(orchestrator.submit(scenario.workflow, payload, run_id=run_id))
            _drive(orchestrator, scenario, clock, pool, nemesis)
        store_faults.remove()
        return judge(
            scenario,
            "sim",
            orchestrator,
            ledger,
            acknowledged,
            progress_deadline=ORIGIN + scenario.heal_after + scenario.progress_bound,
            token=scenario.replay_token(),
            started=(started_at, started_wall),
            faults=list(nemesis.timeline),
            origin=ORIGIN,
        )
    finally:
        orchestrator.store.dispose()


ORIGIN = 1_000_000.0  # the virtual clock's start: far from 0, so offsets are never negative


class _WorkerPool:
    """Logical workers in named slots; also the in-memory twin of process faults."""

    def __init__(self, orchestrator: Orchestrator, scenario: Scenario, clock: ManualClock):
        self.orchestrator = orchestrator
        self.scenario = scenario
        self.clock = clock
        self.current: str | None = None  # the slot whose worker is inside tick() now
        self.rng = random.Random(scenario.seed)
        self.names = [f"worker-{slot}" for slot in range(scenario.workers)]
        self.clocks = {name: SkewedClock(clock) for name in self.names}
        self.paused: set[str] = set()
        self.generation = dict.fromkeys(self.names, 0)
        self.workers = {name: self.fresh(name) for name in self.names}

    def fresh(self, name: str) -> Worker:
        """A new worker process in slot ``name`` (after a crash, a kill or a restart)."""
        self.generation[name] = self.generation.get(name, 0) + 1
        return self.orchestrator.worker(
            worker_id=f"{name}.{self.generation[name]}",
            clock=self.clocks[name],
            lease_seconds=self.scenario.lease_seconds,
            seed=self.rng.randrange(2**32),
        )

    def inject(self, fault: Any) -> str:
        """The process-fault twin: kill, pause or restart a logical worker."""
        name, action = fault.target, fault.params["action"]
        if name not in self.workers:
            raise ScenarioDefinitionError(
                f"process fault target={name!r} names no worker; workers: {', '.join(self.names)}."
            )
        if action == "sigstop":
            self.paused.add(name)
            if name == self.current:
                # Stopped mid-step: the world goes on around it until it is woken.
                length = (
                    fault.duration
                    if fault.duration is not None
                    else 3 * self.scenario.lease_seconds
                )
                self._run_others_until(self.clock.now() + length)
                self.paused.discard(name)
        else:  # a killed worker's lease stays behind; a restart is a kill and a new process
            self.workers[name] = self.fresh(name)
        return f"{action} of logical {name}"

    def tick(self, name: str) -> bool:
        """One tick of the worker in slot ``name``; a crash puts a new worker in its place."""
        previous, self.current = self.current, name
        try:
            return self.workers[name].tick()
        except SimulatedCrash:
            # The worker died mid-step: its lease stays behind, a new process takes its slot.
            self.workers[name] = self.fresh(name)
            return True
        finally:
            self.current = previous

    def _run_others_until(self, until: float) -> None:
        for _ in range(10_000):  # bounded, like every loop of the runner
            if self.clock.now() >= until:
                return
            progressed = False
            for name in self.names:
                if name not in self.paused:
                    progressed = self.tick(name) or progressed
            if not progressed:
                self.clock.advance(0.25)

    def heal(self, fault: Any) -> None:
        """SIGCONT: the paused worker wakes, unaware that its lease may be gone."""
        if fault.params["action"] == "sigstop":
            self.paused.discard(fault.target)


def _drive(
    orchestrator: Orchestrator,
    scenario: Scenario,
    clock: ManualClock,
    pool: _WorkerPool,
    nemesis: Nemesis,
) -> None:
    """Interleave logical workers with a seeded scheduler; heal; then bound the progress."""
    heal_at = ORIGIN + scenario.heal_after
    deadline = heal_at + scenario.progress_bound
    healed = False
    # Bounded in count as well as in virtual time, whatever the workflow does.
    for _ in range(200_000):
        now = clock.now()
        if not healed and now >= heal_at:
            nemesis.heal_all(now)
            healed = True
        nemesis.tick(now)
        if now >= deadline or (orchestrator.unfinished_runs() == 0 and not nemesis.pending_time):
            break
        order = list(pool.names)
        pool.rng.shuffle(order)
        progressed = False
        for name in order:
            if name not in pool.paused:
                progressed = pool.tick(name) or progressed
        if not progressed:
            clock.advance(0.25)
    nemesis.heal_all(clock.now())

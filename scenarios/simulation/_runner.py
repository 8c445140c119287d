"""Run a scenario in the simulation: one process, virtual time, a seeded scheduler, fault twins.

The orchestrator runs for real on a SQLite file (without fsync: durability is modelled, not
measured here; commit failures and lost acknowledgements stay injectable); every wait in it and
in the faults is a wait of the simulated world (``_world``), so a seed fixes the whole history,
and a slow machine gives the same verdict as a fast one.

The run ends when every acknowledged run has ended, no timed fault is still to strike, and no
call is in flight (a delayed request, an abandoned call whose effect may still land); or when
the progress deadline passes: the later of the heal (``heal_after``), the last heal and the
start of the last lasting fault, plus ``progress_bound``.
"""

from __future__ import annotations

import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from greenlet import greenlet

from faults import (
    ClockFaultInjector,
    Nemesis,
    NetworkTwin,
    StepFaultInjector,
    StoreFaultInjector,
)
from orchestrator import FAILURE_LOGGER, HookEvent, HookPoint, Orchestrator

from .._outcome import ScenarioOutcome, judge
from .._scenario import Scenario
from ..effects import CallContext, MemoryLedger, simulated_services
from ._processes import SimulatedProcesses
from ._stores import simulation_store
from ._world import WORLD_GROUP, SimulationError, World

ORIGIN = 1_000_000.0  # the virtual clock's start: far from 0, so offsets are never negative

# What picking up a step costs in virtual time: the store round trips of the claim and the
# record, and the service's round trip. It is what makes a retry storm with no backoff spend
# time, and so reach the progress deadline instead of spinning in one instant.
CLAIM_COST = 0.05

_CLAIMS = (HookPoint.STEP_CLAIMED, HookPoint.COMPENSATION_CLAIMED)


def run_in_process(
    scenario: Scenario,
    workdir: str | os.PathLike[str] | None = None,
    *,
    listeners: Sequence[Callable[[HookEvent], None]] = (),
) -> ScenarioOutcome:
    """Run ``scenario`` in the simulation, its store a SQLite file in ``workdir`` (a temp dir by
    default), and judge it. ``listeners`` see every hook event (an exploration records where a
    run can be crashed with them)."""
    started = (datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter())
    folder = None if workdir is None else Path(workdir)
    with simulation_store(folder) as (store, observing):
        world = World(seed=scenario.seed, start=ORIGIN)
        orchestrator = Orchestrator(store, clock=world.clock, create_schema=False)
        observer = Orchestrator(observing, create_schema=False)
        for listener in listeners:
            orchestrator.hooks.add_listener(listener)
        try:
            return _simulate(scenario, world, orchestrator, observer, started)
        finally:
            world.stop()


def _simulate(
    scenario: Scenario,
    world: World,
    orchestrator: Orchestrator,
    observer: Orchestrator,
    started: tuple[str, float],
) -> ScenarioOutcome:
    orchestrator.register(scenario.workflow)
    doorbell = world.doorbell()
    orchestrator.store.on_work(doorbell.ring)
    processes = SimulatedProcesses(world, orchestrator, scenario, doorbell)
    ledger = MemoryLedger(world.clock.now)
    network = NetworkTwin(scenario.routes, seed=scenario.seed, scheduler=world)
    step_faults = StepFaultInjector(seed=scenario.seed)
    store_faults = StoreFaultInjector(
        orchestrator.store.engine, seed=scenario.seed, sleep=world.sleep
    )
    run_ids = scenario.run_ids()
    nemesis_bell = world.doorbell()
    nemesis = Nemesis(
        scenario.plan,
        {
            "step": step_faults,
            "network": network,
            "partition": network,
            "clock": ClockFaultInjector(processes.clocks),
            "process": processes,
            "store": store_faults,
        },
        origin=ORIGIN,
        runs=run_ids,
        on_strike=nemesis_bell.ring,
    )
    orchestrator.hooks.add_listener(nemesis)
    orchestrator.hooks.add_listener(_claim_cost(world))
    orchestrator.hooks.add_interceptor(network)
    orchestrator.hooks.add_interceptor(step_faults)

    acknowledged: list[str] = []
    refused: list[str] = []

    def client() -> None:
        for index, (run_id, payload) in enumerate(zip(run_ids, scenario.inputs, strict=True)):
            if index and scenario.submit_interval:
                world.sleep(scenario.submit_interval)
            try:
                acknowledged.append(orchestrator.submit(scenario.workflow, payload, run_id=run_id))
            except Exception as error:  # not acknowledged: the client saw the store fail
                refused.append(f"{run_id}: {type(error).__name__}: {error}")

    heal_at = ORIGIN + scenario.heal_after
    healed = False

    def nemesis_loop() -> None:
        nonlocal healed
        while True:
            now = world.now
            if not healed and now >= heal_at:
                nemesis.heal_all(now)
                healed = True
            nemesis.tick(now)
            due = [t for t in (nemesis.next_time(), None if healed else heal_at) if t is not None]
            nemesis_bell.wait(max(min(due) - now, 0.0) if due else _LONG)

    def deadline() -> float:
        quiet_from = max(heal_at, nemesis.lasting_since or heal_at, nemesis.last_heal or heal_at)
        return quiet_from + scenario.progress_bound

    client_task = world.spawn(client, name="client", group="client")

    def finished() -> bool:
        return (
            client_task.done
            and not nemesis.pending_time
            and network.in_flight == 0
            and processes.calls_in_flight() == 0
            and not processes.paused_to_wake()
            and observer.unfinished_runs() == 0
        )

    try:
        with simulated_services(ledger, _Transport(network)), _virtual_sleep(world), _quiet_log():
            world.spawn(nemesis_loop, name="nemesis", group=WORLD_GROUP)
            processes.start()
            stopped = world.run(until=finished, deadline=deadline)
            if stopped == "bound":
                raise SimulationError(
                    f"Scenario {scenario.name!r} (seed {scenario.seed}) made {world.switches} "
                    f"task switches by virtual time {world.now - ORIGIN:.1f}s without ending: a "
                    "step that never waits (a busy loop) keeps the simulated world from moving. "
                    "Give the step a timeout and let it wait on ctx.clock."
                )
            progress_deadline = deadline()
            nemesis.heal_all(world.now, final=True)
    finally:
        store_faults.remove()
    return judge(
        scenario,
        "sim",
        orchestrator,
        ledger,
        acknowledged,
        progress_deadline=progress_deadline,
        token=scenario.replay_token(),
        started=started,
        faults=list(nemesis.timeline),
        origin=ORIGIN,
        meta={
            "stopped": stopped,
            "virtual_seconds": round(world.now - ORIGIN, 6),
            "task_switches": world.switches,
            "crashes": processes.crashes,
            "calls_in_flight_at_end": network.in_flight + processes.calls_in_flight(),
            "submissions_refused": refused,
            "store_faults_struck": dict(sorted(Counter(store_faults.injected).items())),
            "proxies_called": dict(sorted(network.calls.items())),
            "faults_without_calls": sorted(
                {
                    str(f.target)
                    for f in scenario.plan.faults
                    if f.kind in ("network", "partition") and not network.calls[str(f.target)]
                }
            ),
        },
    )


_LONG = 3600.0


def _claim_cost(world: World) -> Callable[[HookEvent], None]:
    def cost(event: HookEvent) -> None:
        if event.point in _CLAIMS:
            world.sleep(CLAIM_COST)

    return cost


class _Transport:
    """Recording services' calls travel the simulated network, to the proxy of their name."""

    def __init__(self, network: NetworkTwin) -> None:
        self.network = network

    def __call__(self, service: str, ctx: CallContext, send: Callable[[], Any]) -> Any:
        return self.network.call(service, send, ctx=ctx)


@contextmanager
def _virtual_sleep(world: World) -> Iterator[None]:
    """``time.sleep`` in a simulated task waits virtual time: a step written with it still
    runs in the simulated world instead of stopping it."""
    real = time.sleep

    def sleep(seconds: Any) -> None:
        current = world.current
        if current is not None and greenlet.getcurrent() is current.glet:
            world.sleep(seconds)
        else:
            real(seconds)

    time.sleep = sleep
    try:
        yield
    finally:
        time.sleep = real


@contextmanager
def _quiet_log() -> Iterator[None]:
    """The orchestrator's warnings (a store that was unavailable, a lost heartbeat) are the
    faults the scenario injected: the history holds them, the terminal need not."""
    loggers = [logging.getLogger(name) for name in ("chaosflow.orchestrator", FAILURE_LOGGER)]
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, previous, strict=True):
            logger.setLevel(level)

"""Logical worker processes of a simulation, and the twin of process faults on them.

Each slot (``worker-0``, ``worker-1``, ...) holds one worker at a time, running in a task group
of its own (its *process*): the worker's loop and the calls it started. A crash ends the
process where it stands and a fresh one takes the slot, its predecessor's leases left behind
exactly as a dead process leaves them, so recovery goes through lease expiry as it does across
real processes. SIGSTOP pauses the group in virtual time, SIGKILL and restart end it.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from faults import SimulatedCrash, SkewedClock
from orchestrator import Orchestrator, Task

from .._errors import ScenarioDefinitionError
from .._scenario import Scenario
from ._world import SimDoorbell, SimTask, World

# An idle simulated worker is woken by commits in the world and by its next due time, so it
# need not poll often: this is only the safety net.
IDLE_POLL = 10.0
# A worker's run loop has no end of its own in a simulation: the world ends it.
_FOREVER = 1e12


class _CallTasks:
    """The runtime a simulated worker gets: the world's, keeping the calls it starts in view."""

    # Every action is a task: the world ends only when no call is in flight.
    inline_actions = False

    def __init__(self, world: World, calls: list[SimTask]) -> None:
        self._world = world
        self._calls = calls

    def spawn(self, target: Callable[[], None], *, name: str) -> Task:
        task = self._world.spawn(target, name=name)
        self._calls.append(task)
        return task

    def spawn_service(self, target: Callable[[], None], *, name: str) -> Task:
        # The worker's heartbeat: a task of its process (paused and killed with it), but not a
        # call the world waits for.
        return self._world.spawn(target, name=name)

    def doorbell(self) -> SimDoorbell:
        return self._world.doorbell()


class SimulatedProcesses:
    """The slots of logical workers; also the in-memory twin of process faults."""

    def __init__(
        self,
        world: World,
        orchestrator: Orchestrator,
        scenario: Scenario,
        doorbell: SimDoorbell,
    ) -> None:
        self.world = world
        self.orchestrator = orchestrator
        self.scenario = scenario
        self.doorbell = doorbell
        self.rng = random.Random(scenario.seed)
        self.names = [f"worker-{slot}" for slot in range(scenario.workers)]
        self.clocks = {name: SkewedClock(world.clock) for name in self.names}
        self.generation = dict.fromkeys(self.names, 0)
        self.calls: list[SimTask] = []  # every action task a worker started
        self._tasks = _CallTasks(world, self.calls)
        self.crashes = 0
        self._waking: set[str] = set()  # groups paused by a fault that will heal

    def group(self, name: str) -> str:
        """The task group of the process now in slot ``name``."""
        return f"{name}#{self.generation[name]}"

    def start(self) -> None:
        """Start a worker in every slot."""
        for name in self.names:
            self._spawn(name)

    def _spawn(self, name: str) -> None:
        self.generation[name] += 1
        group = self.group(name)
        worker = self.orchestrator.worker(
            worker_id=f"{name}.{self.generation[name]}",
            clock=self.clocks[name],
            lease_seconds=self.scenario.lease_seconds,
            seed=self.rng.randrange(2**32),
            runtime=self._tasks,
            doorbell=self.doorbell,
            poll_interval=IDLE_POLL,
        )

        def work() -> None:
            worker.run(max_seconds=_FOREVER)

        self.world.spawn(
            work,
            name=worker.worker_id,
            group=group,
            on_exit=lambda error: self._exited(name, group, error),
        )

    def _exited(self, name: str, group: str, error: BaseException | None) -> None:
        if isinstance(error, SimulatedCrash):
            # The process died mid-step: its calls die with it, a new process takes the slot.
            self.crashes += 1
            self._spawn(name)
            self.world.kill(group)
        elif error is not None:
            self.world.fail(error, self.world.current or self.world.alive(group)[0])

    def calls_in_flight(self) -> int:
        """Action tasks still running (abandoned after a timeout, or in a paused process)."""
        self.calls[:] = [task for task in self.calls if task.is_alive()]
        return len(self.calls)

    # -- the process-fault injector -------------------------------------------------------------

    def inject(self, fault: Any) -> str:
        """Kill, pause or restart a logical worker."""
        # A slot name, or a worker's id (``worker-0.2``) when the fault aims at whoever reached
        # its hook point.
        name, action = str(fault.target).split(".")[0], fault.params["action"]
        if name not in self.generation:
            raise ScenarioDefinitionError(
                f"process fault target={name!r} names no worker; workers: {', '.join(self.names)}."
            )
        group = self.group(name)
        if action == "sigstop":
            # Stopped where it stands; a caller inside the process parks until SIGCONT.
            if not fault.lasting:
                self._waking.add(group)
            self.world.pause(group)
            return f"sigstop of logical {name}"
        # A killed worker's leases stay behind; a restart is a kill and a new process. The new
        # one starts first: the kill may end the very task that carries it out.
        self._waking.discard(group)
        self._spawn(name)
        self.world.kill(group)
        return f"{action} of logical {name}"

    def heal(self, fault: Any) -> None:
        """SIGCONT: the paused worker wakes, unaware that its lease may be gone."""
        if fault.params["action"] == "sigstop":
            group = self.group(str(fault.target).split(".")[0])
            self._waking.discard(group)
            self.world.resume(group)

    def paused_to_wake(self) -> bool:
        """Whether a paused worker is still to wake (its late writes are part of the run)."""
        return bool(self._waking)

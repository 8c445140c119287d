"""The worker processes of a real-mode run (services are in ``_services``).

Each child is a real process of its own (its own pid, its own connections, killed by a real
SIGKILL), forked from the runner and running the module's own entry point
(``scenarios.real_worker.main``) with the arguments
``python -m`` would get. Forking skips the seconds each fresh interpreter spends importing, so a
worker killed mid-step is replaced at once. Children write their output to a log file in the
run's folder, and end with ``os._exit``: nothing of the runner's own state runs in them.

:class:`WorkerPool` keeps one worker process per named slot; a worker that dies (SIGKILLed by a
crash fault or a process fault) is replaced by a fresh process in its slot, as the simulation's
pool does, and recovery goes through lease expiry.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import HarnessError

LOOPBACK = "127.0.0.1"
Entry = Callable[[Sequence[str]], int]


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:].strip() or "(empty)"
    except OSError:
        return "(no log)"


class ChildProcess:
    """A forked child running ``entry(argv)``: its pid, its log, how it ended."""

    def __init__(self, entry: Entry, argv: Sequence[str], env: Mapping[str, str], log: Path):
        self.log = log
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: never returns into the runner's stack
            code = 1
            try:
                out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                os.dup2(out, 1)
                os.dup2(out, 2)
                sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
                sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
                for signum in (signal.SIGTERM, signal.SIGINT):
                    signal.signal(signum, signal.SIG_DFL)
                os.environ.update(env)
                code = entry(list(argv))
            except BaseException:
                traceback.print_exc()
            finally:
                with contextlib.suppress(BaseException):
                    sys.stdout.flush()
                    sys.stderr.flush()
                os._exit(code)
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        """The exit code (negative: the signal that killed it), or None while it runs."""
        if self.returncode is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for it to end; its exit code, or None."""
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.returncode

    def signal(self, signum: int) -> None:
        """Send ``signum``, unless it has already ended."""
        if self.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signum)

    def stop(self, grace: float = 5.0) -> None:
        """SIGCONT (it may be stopped) and SIGTERM; SIGKILL after ``grace`` seconds."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        if self.wait(grace) is None:
            self.signal(signal.SIGKILL)
            self.wait(grace)


@dataclass
class WorkerExit:
    """A worker process that ended, and how."""

    slot: str
    generation: int
    pid: int
    returncode: int
    at: float


@dataclass
class WorkerPool:
    """Worker processes in named slots (``worker-0``...); a dead one is replaced by a fresh one.

    ``argv(slot, generation)`` builds a worker's arguments; ``before_fork`` runs before each
    fork (the runner closes its pooled store connections there, so no child shares them).
    Respawns are bounded by ``max_respawns``: past it, a slot stays empty (and the runs it would
    have served get stuck, which the progress checker reports).
    """

    slots: Sequence[str]
    entry: Entry
    argv: Callable[[str, int], list[str]]
    env: Mapping[str, str]
    logs: Path
    before_fork: Callable[[], None] = lambda: None
    max_respawns: int = 50
    processes: dict[str, ChildProcess] = field(default_factory=dict)
    generation: dict[str, int] = field(default_factory=dict)
    exits: list[WorkerExit] = field(default_factory=list)
    respawns: int = 0
    stopping: bool = False

    def start(self) -> None:
        """Start one worker per slot."""
        for slot in self.slots:
            self._spawn(slot)

    def _spawn(self, slot: str) -> None:
        generation = self.generation.get(slot, 0) + 1
        self.generation[slot] = generation
        self.before_fork()
        log = self.logs / f"{slot}.{generation}.log"
        self.processes[slot] = ChildProcess(self.entry, self.argv(slot, generation), self.env, log)

    def pid_of(self, slot: str) -> int:
        """The pid of the worker now in ``slot`` (the process injector's view)."""
        if slot not in self.processes:
            raise HarnessError(
                f"process fault target={slot!r} names no worker; workers: {', '.join(self.slots)}."
            )
        return self.processes[slot].pid

    def restart(self, slot: str) -> None:
        """A restart: the old process (already SIGKILLed by the injector) replaced at once."""
        self.processes[slot].wait(5)
        self.reap()

    def reap(self) -> list[WorkerExit]:
        """Record every worker that ended and put a fresh one in its slot."""
        ended = []
        for slot, process in list(self.processes.items()):
            code = process.poll()
            if code is None:
                continue
            if code != -signal.SIGKILL and not self.stopping:
                # Only a SIGKILL is a fault; any other end is a broken harness, not a verdict.
                raise HarnessError(
                    f"Worker process {slot!r} (pid {process.pid}) exited with code {code} "
                    f"before the run ended: {_tail(process.log)}"
                )
            record = WorkerExit(slot, self.generation[slot], process.pid, code, time.time())
            self.exits.append(record)
            ended.append(record)
            del self.processes[slot]
            if not self.stopping and self.respawns < self.max_respawns:
                self.respawns += 1
                self._spawn(slot)
        return ended

    def stop(self, stop_file: Path, grace: float = 10.0) -> None:
        """Ask every worker to stop (the stop file), then terminate any that linger."""
        self.stopping = True
        stop_file.touch()
        deadline = time.monotonic() + grace
        for process in self.processes.values():
            process.signal(signal.SIGCONT)  # a stopped worker cannot see the file
        for process in self.processes.values():
            process.wait(max(0.1, deadline - time.monotonic()))
        for process in self.processes.values():
            process.stop()
        self.reap()

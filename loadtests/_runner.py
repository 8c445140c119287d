"""Running Locust headless in processes of its own: one local process, or a master and workers.

Importing locust gevent-patches the whole process, so this module never imports it: it starts
``python -m locust`` on :data:`LOCUSTFILE` (one process, or a master and ``workers`` worker
processes on loopback) in one process group of their own, so that :meth:`LocustRun.stop` ends
every one of them, whatever state they are in. The Locust processes write Locust's CSV (with
full history) and HTML, and chaosflow's samples (see ``locustfile.py``), into ``out_dir``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ._config import CONFIG_ENV, RUN_FILE, SAMPLES_FILE, STARTED_FILE
from ._errors import LoadTestError

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
START_SECONDS = 90.0  # Locust's own start (imports, workers joining) on a loaded machine
_TAIL_CHARS = 3000


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-_TAIL_CHARS:].strip() or "(empty)"
    except OSError:
        return "(no log)"


@dataclass(frozen=True)
class LocustPlan:
    """How to start Locust for one load run: where, against what, how many processes."""

    out_dir: Path
    config_path: Path
    host_url: str
    user_class: str = "WorkflowUser"
    duration_s: float = 10.0
    stop_timeout_s: float = 15.0
    workers: int = 0
    remote_workers: int = 0
    bind_host: str = "127.0.0.1"
    master_port: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def distributed(self) -> bool:
        """Whether a master hands the load to worker processes."""
        return self.workers + self.remote_workers > 0

    @property
    def deadline_s(self) -> float:
        """How long the Locust processes may live in all, before they are killed."""
        return START_SECONDS + self.duration_s + self.stop_timeout_s + 30.0


@dataclass
class LoadRecord:
    """What the Locust processes recorded: the origin of the run (wall time), when it stopped,
    one sample per iteration, the users each second, and how the processes reported."""

    origin: float
    stopped_at: float
    samples: list[dict[str, Any]]
    users: list[tuple[float, int]]
    processes: int
    workers_reported: int | None
    exceptions: list[dict[str, Any]]

    @property
    def length_s(self) -> float:
        """Seconds from the origin until the load stopped (the drain included)."""
        return self.stopped_at - self.origin


def read_record(folder: str | os.PathLike[str]) -> LoadRecord:
    """The record the Locust processes of a load run wrote into ``folder`` (its report)."""
    out = Path(folder)
    meta_path, samples_path = out / RUN_FILE, out / SAMPLES_FILE
    if not meta_path.exists() or not samples_path.exists():
        raise LoadTestError(
            f"There is no {RUN_FILE} and {SAMPLES_FILE} in {str(out)!r}: Locust crashed or was "
            f"stopped before the load ended. Its log:\n{_tail(out / 'locust.log')}"
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    with samples_path.open(encoding="utf-8") as file:
        samples = [json.loads(line) for line in file if line.strip()]
    if meta.get("origin") is None:
        raise LoadTestError(f"Locust's {RUN_FILE} in {str(out)!r} has no origin.")
    return LoadRecord(
        origin=float(meta["origin"]),
        stopped_at=float(meta["stopped_at"]),
        samples=samples,
        users=[(float(t), int(n)) for t, n in meta["users"]],
        processes=int(meta["processes"]),
        workers_reported=meta.get("workers_reported"),
        exceptions=list(meta.get("exceptions", [])),
    )


class LocustRun:
    """The Locust processes of one load run, in a process group of their own."""

    def __init__(self, plan: LocustPlan) -> None:
        self.plan = plan
        self.out = plan.out_dir.resolve()
        self.master: subprocess.Popen[bytes] | None = None
        self.workers: list[subprocess.Popen[bytes]] = []
        self.started_at = 0.0
        self._logs: list[IO[bytes]] = []

    @property
    def pids(self) -> list[int]:
        """The pids of every Locust process started."""
        return [p.pid for p in [*([self.master] if self.master else []), *self.workers]]

    def _env(self, *, worker: bool) -> dict[str, str]:
        # Locust reads LOCUST_* variables as options: keep them out, so the profile is the run.
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}
        path = [os.getcwd(), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
        env.pop(CONFIG_ENV, None)
        if not worker:  # workers ask the master for it, as a worker on another host must
            env[CONFIG_ENV] = str(self.plan.config_path.resolve())
        env.update(self.plan.extra_env)
        return env

    def _popen(self, argv: list[str], log_name: str, group: int | None) -> subprocess.Popen[bytes]:
        log = (self.out / log_name).open("wb")
        self._logs.append(log)
        command = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), *argv]
        # One process group for all of them: stop() signals the group, so none outlives it.
        group_option: dict[str, Any] = {"process_group": 0 if group is None else group}
        # cwd=out: Locust would otherwise pick up a locust.conf from wherever we were started.
        env = self._env(worker=group is not None)
        return subprocess.Popen(
            command, cwd=self.out, env=env, stdout=log, stderr=log, **group_option
        )

    def start(self) -> LocustRun:
        """Start the local (or master) process and the worker processes."""
        plan = self.plan
        self.out.mkdir(parents=True, exist_ok=True)
        for name in (SAMPLES_FILE, RUN_FILE, STARTED_FILE):
            (self.out / name).unlink(missing_ok=True)
        common = [
            *("--headless", "--host", plan.host_url, "--csv", str(self.out / "locust")),
            *("--csv-full-history", "--html", str(self.out / "locust.html")),
            *("--stop-timeout", f"{plan.stop_timeout_s:g}", "--exit-code-on-error", "0"),
            *("--only-summary", "--loglevel", "WARNING"),
        ]
        port = plan.master_port or _free_port(plan.bind_host)
        if plan.distributed:
            expected = plan.workers + plan.remote_workers
            master = [
                *("--master", "--expect-workers", str(expected)),
                *("--expect-workers-max-wait", f"{START_SECONDS:g}"),
                *("--master-bind-host", plan.bind_host, "--master-bind-port", str(port)),
            ]
            self.master = self._popen([*common, *master, plan.user_class], "locust.log", None)
            connect = "127.0.0.1" if plan.bind_host in ("0.0.0.0", "") else plan.bind_host
            for index in range(plan.workers):
                worker = ["--worker", "--master-host", connect, "--master-port", str(port)]
                worker += ["--loglevel", "WARNING", plan.user_class]
                self.workers.append(
                    self._popen(worker, f"locust-worker-{index}.log", self.master.pid)
                )
        else:
            self.master = self._popen([*common, plan.user_class], "locust.log", None)
        self.started_at = time.monotonic()
        return self

    def wait_started(self, timeout: float = START_SECONDS) -> float:
        """Wait until the load begins; its origin as a wall time (``time.time()``)."""
        deadline = time.monotonic() + timeout
        started = self.out / STARTED_FILE
        while time.monotonic() < deadline:
            if started.exists():
                with contextlib.suppress(ValueError, OSError):
                    return float(json.loads(started.read_text())["origin"])
            if self.poll() is not None:
                break
            time.sleep(0.05)
        code = self.poll()
        self.stop()
        raise LoadTestError(
            f"Locust did not start the load (exit_code={code!r}, waited {timeout:g} s). Its "
            f"log:\n{_tail(self.out / 'locust.log')}"
        )

    @property
    def overdue(self) -> bool:
        """Whether the Locust processes have lived longer than the plan allows."""
        return time.monotonic() - self.started_at > self.plan.deadline_s

    def poll(self) -> int | None:
        """The local or master process's exit code, or None while it runs."""
        return None if self.master is None else self.master.poll()

    def wait(self) -> int:
        """Wait for the load to end (bounded by the plan); its exit code. Stops it if late."""
        assert self.master is not None
        remaining = self.plan.deadline_s - (time.monotonic() - self.started_at)
        try:
            code = self.master.wait(timeout=max(1.0, remaining))
        except subprocess.TimeoutExpired:
            self.stop()
            raise LoadTestError(
                f"Locust did not end within {self.plan.deadline_s:g} s of its start and was "
                f"killed. Its log:\n{_tail(self.out / 'locust.log')}"
            ) from None
        # The workers' last samples reached the master before it stopped; with the master gone
        # they have nothing left to do (and are never told to quit), so they are stopped now.
        self.stop()
        return code

    def stop(self) -> None:
        """End every Locust process: SIGTERM to the group, SIGKILL after a grace period."""
        if self.master is None:
            return
        group = self.master.pid
        for signum, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(group, signum)
            deadline = time.monotonic() + grace
            for process in [self.master, *self.workers]:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=max(0.05, deadline - time.monotonic()))
            if all(p.poll() is not None for p in [self.master, *self.workers]):
                break
        for log in self._logs:
            log.close()
        self._logs.clear()

    def record(self) -> LoadRecord:
        """What the Locust processes wrote when the load stopped."""
        return read_record(self.out)

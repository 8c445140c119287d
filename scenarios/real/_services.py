"""The services of a real-mode run: each a real process group, started from its command line.

A service (the user's own, or a bundled example service, which is started the same way) runs
in a session of its own, so a SIGKILL, SIGSTOP or stop reaches the whole group (a service that
forks workers, a launcher script) and nothing is left running. chaosflow picks its port and
passes it in (``{port}`` in the command, ``$PORT`` in the environment), waits for its health
URL to answer 2xx, and appends its output to ``service-<name>.log`` in the run's logs folder,
one section per start. A restart starts the same command on the same port (the proxy in front
of it points there) with the same ``{folder}``, so what the service keeps on disk survives it
and what it keeps in memory does not.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from faults import free_port

from .._errors import HarnessError
from ..effects import LEDGER_ENV, SERVICE_NAME_ENV
from ._service_spec import ServiceSpec, as_specs

LOOPBACK = "127.0.0.1"
SERVICE_FOLDER_ENV = "CHAOSFLOW_SERVICE_FOLDER"
# The checkout (or site-packages) the scenarios package lives in, for the bundled services.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


def _tail(path: Path, size: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-size:].strip() or "(empty)"
    except OSError:
        return "(no log)"


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with each ``{placeholder}`` of ``values`` replaced; other braces stay as they
    are (an env value may hold JSON)."""
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


class ServiceProcess:
    """One service of a run: its spec, its port, its current process group, its log."""

    def __init__(self, spec: ServiceSpec, ledger: Path, logs: Path, folder: Path) -> None:
        self.spec = spec
        self.name = spec.name
        self.port = free_port(LOOPBACK)
        self.folder = folder / spec.name
        self.folder.mkdir(parents=True, exist_ok=True)
        self.log = logs / f"service-{spec.name}.log"
        self.values = {
            "port": str(self.port),
            "folder": str(self.folder),
            "ledger": str(ledger),
            "name": spec.name,
            "python": sys.executable,
        }
        self.process: GroupProcess | None = None
        self.generation = 0
        self.pids: list[int] = []

    @property
    def address(self) -> str:
        """host:port of the service itself (Toxiproxy's upstream)."""
        return f"{LOOPBACK}:{self.port}"

    @property
    def honour_keys(self) -> bool:
        """Whether a bundled example service honours idempotency keys."""
        return self.spec.honour_keys

    @property
    def pid(self) -> int:
        """The pid of the service's current process (its process group's leader)."""
        if self.process is None:
            raise HarnessError(f"Service {self.name!r} has not been started.")
        return self.process.pid

    @property
    def health_url(self) -> str:
        """Where chaosflow asks whether the service is up."""
        health = fill(self.spec.health, self.values)
        return health if health.startswith("http") else f"http://{self.address}{health}"

    def argv(self) -> list[str]:
        """The command line, placeholders filled in."""
        if self.spec.command is None:
            argv = [sys.executable, "-m", "scenarios.http_service", "--name", self.name]
            argv += ["--port", "{port}", "--ledger", "{ledger}"]
            argv += [] if self.spec.honour_keys else ["--ignore-keys"]
        else:
            argv = list(self.spec.command)
        return [fill(part, self.values) for part in argv]

    def environment(self) -> dict[str, str]:
        """The service's environment: the runner's, the run's variables, then the entry's."""
        env = dict(os.environ)
        if self.spec.bundled:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p
            )
        env.update(
            {
                "PORT": str(self.port),
                LEDGER_ENV: self.values["ledger"],
                SERVICE_NAME_ENV: self.name,
                SERVICE_FOLDER_ENV: str(self.folder),
            }
        )
        env.update({k: fill(v, self.values) for k, v in self.spec.env.items()})
        return env

    def start(self) -> None:
        """Start the command (it must then answer on its health URL: :meth:`wait_healthy`)."""
        self.generation += 1
        with self.log.open("a") as log:
            log.write(f"--- chaosflow: start {self.generation} of {self.name}: {self.argv()}\n")
            log.flush()
            try:
                process = subprocess.Popen(
                    self.argv(),
                    cwd=self.spec.cwd,
                    env=self.environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # its own process group: signals reach all of it
                )
            except OSError as error:
                raise HarnessError(
                    f"Service {self.name!r} could not start: command={self.argv()!r} in "
                    f"cwd={self.spec.cwd!r} failed ({error}). Check the services.{self.name}."
                    "command and cwd fields."
                ) from None
        self.process = GroupProcess(process)
        self.pids.append(process.pid)

    def wait_healthy(self, deadline: float | None = None) -> None:
        """Wait until the health URL answers 2xx; a service that exits or stays silent past its
        ``start_timeout`` is a harness error, with the end of its log."""
        deadline = deadline or time.monotonic() + self.spec.start_timeout
        url = self.health_url
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise HarnessError(
                    f"Service {self.name!r} exited at start with code "
                    f"{self.process.returncode} (command={self.argv()!r}); its log "
                    f"{str(self.log)!r} ends: {_tail(self.log)}"
                )
            try:
                if httpx.get(url, timeout=1.0).is_success:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise HarnessError(
            f"Service {self.name!r} did not answer 2xx on {url} within "
            f"start_timeout={self.spec.start_timeout!r}s (command={self.argv()!r}). Check "
            f"that it listens on $PORT / {{port}}, or raise services.{self.name}.start_timeout. "
            f"Its log ends: {_tail(self.log)}"
        )

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the service's whole process group."""
        if self.process is not None:
            self.process.signal(signum)

    def restart(self) -> None:
        """SIGKILL the group (if alive), start the command again on the same port, wait for it."""
        if self.process is not None:
            self.process.signal(signal.SIGKILL)
            self.process.wait(10.0)
        self.start()
        self.wait_healthy()

    def stop(self) -> None:
        """Stop the group: SIGCONT and SIGTERM, SIGKILL after a grace period."""
        if self.process is not None:
            self.process.stop()


class GroupProcess:
    """A started process that leads a process group of its own."""

    def __init__(self, popen: subprocess.Popen[Any]) -> None:
        self.popen = popen
        self.pid = popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code (negative: the signal that ended it), or None while it runs."""
        return self.popen.returncode

    def poll(self) -> int | None:
        """The exit code, or None while it runs."""
        return self.popen.poll()

    def wait(self, timeout: float) -> int | None:
        """Wait up to ``timeout`` seconds for it to end; its exit code, or None."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout)
        return self.popen.returncode

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the whole group (what is left of it)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signum)

    def stop(self, grace: float = 5.0) -> None:
        """SIGCONT (it may be stopped) and SIGTERM to the group; SIGKILL after ``grace``."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        if self.wait(grace) is None:
            self.signal(signal.SIGKILL)
            self.wait(grace)
        # The leader is gone; anything it left in its group goes with it.
        self.signal(signal.SIGKILL)


def start_services(
    specs: Sequence[ServiceSpec] | Sequence[tuple[str, bool]],
    ledger: Path,
    logs: Path,
    *,
    folder: Path | None = None,
) -> list[ServiceProcess]:
    """Start every service (all at once), then wait for each to be healthy; on any failure
    every one started is stopped again."""
    started: list[ServiceProcess] = []
    try:
        for spec in as_specs(specs):
            service = ServiceProcess(spec, ledger, logs, folder or logs.parent / "services")
            started.append(service)
            service.start()
        for service in started:
            service.wait_healthy()
    except BaseException:
        for service in started:
            service.stop()
        raise
    return started

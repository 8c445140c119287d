"""Process faults on real processes (workers, services): SIGKILL, SIGSTOP then SIGCONT, restart.

The injector finds a target's pid by name through a callable the runner gives it, so it works
with whatever starts the processes (subprocesses here, a supervisor elsewhere); ``send`` says
how a signal reaches a target when a pid is not enough (a service's whole process group).
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Callable
from typing import Any

from ._errors import FaultError


class ProcessFaultInjector:
    """Signals real processes: ``sigkill``, ``sigstop`` (healed with SIGCONT), ``restart``."""

    def __init__(
        self,
        pid_of: Callable[[str], int],
        restart: Callable[[str], None] | None = None,
        send: Callable[[str, int], None] | None = None,
    ) -> None:
        self.pid_of = pid_of
        self.restart = restart
        self.send = send or (lambda target, signum: os.kill(self.pid_of(target), signum))

    def inject(self, fault: Any) -> str:
        """Signal the target's process."""
        action = fault.params["action"]
        pid = self.pid_of(fault.target)
        if action == "sigkill":
            self.send(fault.target, signal.SIGKILL)
        elif action == "sigstop":
            self.send(fault.target, signal.SIGSTOP)
        elif action == "restart":
            if self.restart is None:
                raise FaultError(
                    f"process restart of {fault.target!r} needs a restart callable; give the "
                    "ProcessFaultInjector one that starts the worker again."
                )
            self.send(fault.target, signal.SIGKILL)
            self.restart(fault.target)
        return f"{action} pid {pid}"

    def heal(self, fault: Any) -> None:
        """Wake a stopped process; a killed one stays dead (restart is a fault of its own)."""
        if fault.params["action"] == "sigstop":
            # A process that died while stopped has nothing to wake.
            with contextlib.suppress(ProcessLookupError):
                self.send(fault.target, signal.SIGCONT)

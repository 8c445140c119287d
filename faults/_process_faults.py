"""Process faults on real worker processes: SIGKILL, SIGSTOP then SIGCONT, restart.

The injector finds a worker's pid by name through a callable the runner gives it, so it works
with whatever starts the workers (subprocesses here, a supervisor elsewhere).
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
    ) -> None:
        self.pid_of = pid_of
        self.restart = restart

    def inject(self, fault: Any) -> str:
        """Signal the target worker's process."""
        action = fault.params["action"]
        pid = self.pid_of(fault.target)
        if action == "sigkill":
            os.kill(pid, signal.SIGKILL)
        elif action == "sigstop":
            os.kill(pid, signal.SIGSTOP)
        elif action == "restart":
            if self.restart is None:
                raise FaultError(
                    f"process restart of {fault.target!r} needs a restart callable; give the "
                    "ProcessFaultInjector one that starts the worker again."
                )
            os.kill(pid, signal.SIGKILL)
            self.restart(fault.target)
        return f"{action} pid {pid}"

    def heal(self, fault: Any) -> None:
        """Wake a stopped process; a killed one stays dead (restart is a fault of its own)."""
        if fault.params["action"] == "sigstop":
            # A process that died while stopped has nothing to wake.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid_of(fault.target), signal.SIGCONT)

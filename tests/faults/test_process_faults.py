"""Process faults on real processes: SIGKILL, SIGSTOP/SIGCONT and restart."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from faults import Fault, FaultError, ProcessFaultInjector, Trigger

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def state_of(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split(")")[-1].split()[0]


def fault(action: str) -> Fault:
    return Fault("process", Trigger(at=0.0), "w", None, {"action": action})


def test_sigkill_stop_cont_and_restart_act_on_real_processes() -> None:
    processes = {"w": subprocess.Popen(SLEEPER)}
    restarted: list[str] = []

    def restart(name: str) -> None:
        restarted.append(name)
        processes[name] = subprocess.Popen(SLEEPER)

    injector = ProcessFaultInjector(lambda name: processes[name].pid, restart)
    try:
        first = processes["w"]
        injector.inject(fault("sigstop"))
        time.sleep(0.2)
        assert state_of(first.pid) == "T"  # stopped
        injector.heal(fault("sigstop"))
        time.sleep(0.2)
        assert state_of(first.pid) in ("S", "R")
        injector.inject(fault("restart"))
        assert first.wait(10) == -9 and restarted == ["w"]
        assert processes["w"].pid != first.pid and processes["w"].poll() is None
        injector.inject(fault("sigkill"))
        assert processes["w"].wait(10) == -9
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)


def test_restart_without_a_way_to_restart_is_a_clear_error() -> None:
    process = subprocess.Popen(SLEEPER)
    try:
        with pytest.raises(FaultError, match="needs a restart callable"):
            ProcessFaultInjector(lambda name: process.pid).inject(fault("restart"))
    finally:
        process.kill()
        process.wait(10)

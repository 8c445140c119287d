"""Process faults on real processes: SIGKILL, SIGSTOP/SIGCONT and restart."""

from __future__ import annotations

import contextlib
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


def _becomes(pid: int, states: tuple[str, ...], within: float = 30.0) -> bool:
    # The kernel delivers a signal soon, but "soon" on a loaded machine is not 0.2 s.
    deadline = time.monotonic() + within
    while state_of(pid) not in states:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


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
        assert _becomes(first.pid, ("T",))  # stopped
        injector.heal(fault("sigstop"))
        assert _becomes(first.pid, ("S", "R"))
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


def test_send_says_how_a_signal_reaches_a_target_such_as_a_process_group() -> None:
    # A launcher whose child does the work: a signal to the launcher's pid alone would leave
    # the child running; ``send`` signals the whole group.
    import os
    import signal

    launcher = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys, time; "
            "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
            "print(flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    assert launcher.stdout is not None
    launcher.stdout.readline()  # the child has been started
    sent: list[tuple[str, int]] = []

    def send(name: str, signum: int) -> None:
        sent.append((name, signum))
        os.killpg(launcher.pid, signum)

    injector = ProcessFaultInjector(lambda name: launcher.pid, send=send)
    try:
        assert injector.inject(fault("sigkill")) == f"sigkill pid {launcher.pid}"
        assert launcher.wait(10) == -signal.SIGKILL
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(launcher.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            raise AssertionError("a process of the group outlived the SIGKILL")
        assert sent == [("w", signal.SIGKILL)]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(launcher.pid, signal.SIGKILL)
        launcher.stdout.close()
        launcher.wait(10)


def test_a_fault_aimed_elsewhere_strikes_once_with_the_target_it_was_given() -> None:
    from faults import FaultPlan, Nemesis

    class Recorder:
        def __init__(self) -> None:
            self.struck: list[str | None] = []

        def inject(self, fault: Fault) -> str:
            self.struck.append(fault.target)
            return "done"

        def heal(self, fault: Fault) -> None:
            pass

    aimed = Fault(
        "process", Trigger(point="step_claimed", step="ship"), None, 2.0, {"action": "sigstop"}
    )
    recorder = Recorder()
    nemesis = Nemesis(FaultPlan((aimed,)), {"process": recorder}, origin=0.0)
    assert nemesis.strike_aimed(0, 5.0, "r/ship@step_claimed", target="worker-1") is True
    assert nemesis.strike_aimed(0, 6.0, "r/ship@step_claimed", target="worker-0") is False
    assert recorder.struck == ["worker-1"]
    (record,) = nemesis.timeline
    assert (record.target, record.at) == ("worker-1", 5.0)
    nemesis.tick(7.5)  # its duration has passed
    assert record.healed_at == 7.5

"""Clock faults: a worker's clock that is skewed, or jumps, relative to everyone else's.

:class:`SkewedClock` wraps any clock (an object with ``now()`` and ``sleep()``) and is handed to
one worker in place of the shared clock, so that worker believes leases expired early (clock
ahead) or late (clock behind).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Protocol

from ._errors import FaultPlanError


class ClockLike(Protocol):
    """What a clock offers: a reading in seconds and a way to wait."""

    def now(self) -> float: ...
    def sleep(self, seconds: float) -> None: ...


class SkewedClock:
    """``base``'s time plus an offset that can change (a jump) while the worker runs."""

    def __init__(self, base: ClockLike, offset: float = 0.0) -> None:
        self.base = base
        self._offset = offset
        self._lock = threading.Lock()

    @property
    def offset(self) -> float:
        """Seconds this clock is ahead of its base (negative: behind)."""
        with self._lock:
            return self._offset

    def now(self) -> float:
        """The base time plus the offset."""
        return self.base.now() + self.offset

    def sleep(self, seconds: float) -> None:
        """Wait on the base clock: skew changes readings, not durations."""
        self.base.sleep(seconds)

    def jump(self, seconds: float) -> None:
        """Jump forwards (positive) or backwards (negative) by ``seconds``."""
        if seconds != seconds:  # NaN
            raise FaultPlanError(f"Clock jump seconds={seconds!r} is not a number.")
        with self._lock:
            self._offset += seconds


class ClockFaultInjector:
    """Carries out ``clock`` faults on the named workers' skewed clocks."""

    def __init__(self, clocks: Mapping[str, SkewedClock]) -> None:
        self.clocks = clocks

    def _clock(self, fault: Any) -> SkewedClock:
        try:
            return self.clocks[fault.target]
        except KeyError:
            raise FaultPlanError(
                f"clock fault target={fault.target!r} names no worker; workers: "
                f"{', '.join(sorted(self.clocks))}."
            ) from None

    def inject(self, fault: Any) -> str:
        """Skew or jump the target worker's clock by ``seconds``."""
        seconds = float(fault.params["seconds"])
        self._clock(fault).jump(seconds)
        return f"{fault.params['action']} {seconds:+}s"

    def heal(self, fault: Any) -> None:
        """A skew is undone; a jump stays (time does not jump back by itself)."""
        if fault.params["action"] == "skew":
            self._clock(fault).jump(-float(fault.params["seconds"]))

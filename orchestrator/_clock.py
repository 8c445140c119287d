"""Time, injected: everything in the orchestrator reads time and sleeps through a Clock."""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the orchestrator needs of time: a reading in seconds and a way to wait."""

    def now(self) -> float:
        """Seconds since the epoch (or since any fixed origin, for a virtual clock)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; a virtual clock advances instead of waiting."""
        ...


class SystemClock:
    """The wall clock: ``time.time`` and ``time.sleep``."""

    def now(self) -> float:
        """Seconds since the epoch."""
        return time.time()

    def sleep(self, seconds: float) -> None:
        """Block the calling thread for ``seconds``."""
        if seconds > 0:
            time.sleep(seconds)


class ManualClock:
    """A virtual clock: time moves only when told, and ``sleep`` advances it at once.

    It makes backoff, lease and timeout logic run in microseconds and reproducibly.
    """

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        """The current virtual time."""
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """Advance the virtual time by ``seconds`` without waiting."""
        self.advance(max(seconds, 0.0))

    def advance(self, seconds: float) -> None:
        """Move the virtual time forward; moving it backwards is a clock fault, use ``set``."""
        if seconds < 0:
            raise ValueError(
                f"ManualClock.advance(seconds={seconds!r}): time only moves forward here; "
                "use ManualClock.set() to simulate a backward jump."
            )
        with self._lock:
            self._now += seconds

    def set(self, value: float) -> None:
        """Jump to ``value`` (forwards or backwards), as a clock fault would."""
        with self._lock:
            self._now = value

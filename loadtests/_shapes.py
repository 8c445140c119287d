"""Load shapes as pure functions of time, and the open-model arrival schedule.

A shape says how many users (Locust's virtual users) run at ``t`` seconds into the load, and
``None`` once the run is over; the locustfile's ``LoadTestShape`` asks it about once a second.
Every shape is bounded by the profile's ``users`` (the most users at once) and ``duration_s``.

| shape | users at t |
|---|---|
| steady | ``users`` |
| ramp | ``start_users`` up to ``users`` over ``up_s``, held, down to 0 over ``down_s`` |
| step | ``step_users`` more every ``every_s``, up to ``users`` |
| spike | ``base_users``; ``users`` from ``at_s`` for ``for_s`` |
| soak | up to ``users`` over ``up_s``, then held (a long run) |
| arrival_rate | ``users`` users taking iterations due at ``arrival_rate`` per second |

docs/load.md says which shape answers which question.

:class:`ArrivalSchedule` is the open model (k6's constant-arrival-rate): iterations are due at
fixed times whatever the latency; a free user takes the next one due, and one whose time passed
with no user free is *dropped* (counted, never started late), so a slow system cannot lower its
own load. Latency is measured from each iteration's intended start (no coordinated omission).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final

SHAPES: Final = ("steady", "ramp", "step", "spike", "soak", "arrival_rate")
# A started iteration may begin this late after its intended time (scheduling jitter) before it
# counts as dropped instead.
LATE_TOLERANCE_S: Final = 0.05


def users_at(shape: Mapping[str, Any], users: int, duration_s: float, t: float) -> int | None:
    """How many users ``shape`` (a profile's ``shape`` as data) wants ``t`` seconds in.

    ``None`` once ``t`` reaches ``duration_s``: the load is over. Never more than ``users``.
    """
    if t >= duration_s:
        return None
    t = max(0.0, t)
    kind = shape["kind"]
    if kind in ("steady", "arrival_rate"):
        wanted = float(users)
    elif kind in ("ramp", "soak"):
        wanted = _ramp(shape, users, duration_s, t)
    elif kind == "step":
        wanted = shape["step_users"] * (math.floor(t / shape["every_s"]) + 1)
    elif kind == "spike":
        at, length = shape["at_s"], shape["for_s"]
        wanted = users if at <= t < at + length else shape["base_users"]
    else:
        raise ValueError(f"shape kind={kind!r} is not a shape; use one of {', '.join(SHAPES)}.")
    return max(0, min(users, round(wanted)))


def _ramp(shape: Mapping[str, Any], users: int, duration_s: float, t: float) -> float:
    start = float(shape.get("start_users", 0))
    down = float(shape.get("down_s") or 0.0)
    # A ramp without up_s rises over the whole run but its ramp-down; soak always has one.
    up = float(shape["up_s"]) if shape.get("up_s") is not None else duration_s - down
    if up > 0 and t < up:
        return start + (users - start) * (t / up)
    if down > 0 and t >= duration_s - down:
        return users * max(0.0, (duration_s - t) / down)
    return float(users)


def peak_users(shape: Mapping[str, Any], users: int, duration_s: float) -> int:
    """The most users the shape ever wants (sampled each second), for bounds and reports."""
    steps = max(1, math.ceil(duration_s))
    return max((users_at(shape, users, duration_s, float(s)) or 0) for s in range(steps))


class ArrivalSchedule:
    """Iterations due at ``rate`` per second from ``origin`` until ``stop_at`` (wall times).

    :meth:`take` is called by a user that is free at ``now``: it returns the intended start of
    the next iteration due (possibly in the future: the user sleeps until then) and how many
    iterations were due while no user was free (dropped). ``share`` is this process's part of
    the rate when several Locust processes share one profile.
    """

    def __init__(self, rate: float, *, origin: float, stop_at: float) -> None:
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"rate={rate!r} must be a positive number of iterations per second.")
        self.rate = rate
        self.stop_at = stop_at
        self._next = origin
        self.dropped = 0

    def take(self, now: float, share: float = 1.0) -> tuple[float | None, int]:
        """``(intended start, dropped)``; the start is ``None`` once the schedule is over."""
        step = 1.0 / (self.rate * max(share, 1e-6))
        dropped = 0
        late_by = (now - LATE_TOLERANCE_S) - self._next
        if late_by > 0:
            # Every iteration due before now - tolerance found no user free: it is dropped.
            dropped = math.floor(late_by / step) + 1
            dropped = min(dropped, max(0, math.ceil((self.stop_at - self._next) / step)))
            self._next += dropped * step
        self.dropped += dropped
        if self._next >= self.stop_at:
            return None, dropped
        intended = self._next
        self._next += step
        return intended, dropped

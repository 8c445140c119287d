"""The rules between a load profile's fields: shapes inside the run, fault windows inside the
run and on a known target, bounds per Locust process. Each broken rule names the field and value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._profile import LOAD_FAULT_KINDS, MAX_USERS_PER_PROCESS, Ramp, Soak, Spike, Step

if TYPE_CHECKING:
    from ._profile import LoadProfile

_INSTANT_ACTIONS = ("sigkill", "restart")  # a process fault that has no window to heal


def check_profile(profile: LoadProfile) -> None:
    """Raise ``ValueError`` naming the first rule ``profile`` breaks."""
    _check_shape(profile)
    _check_bounds(profile)
    for index, fault in enumerate(profile.faults):
        check_fault_window(index, fault, profile.duration_s, profile.fault_targets)
    if not profile.faults and any(t.metric == "time_to_recover_s" for t in profile.thresholds):
        raise ValueError(
            "thresholds.time_to_recover_s needs a fault window to recover from; add one under "
            "faults, or remove the threshold"
        )


def _check_shape(p: LoadProfile) -> None:
    shape, d = p.shape, p.duration_s
    if isinstance(shape, Ramp):
        if shape.start_users > p.users:
            raise ValueError(f"shape.start_users={shape.start_users} is more than users={p.users}")
        up = shape.up_s if shape.up_s is not None else d - shape.down_s
        if up + shape.down_s > d:
            raise ValueError(
                f"shape.up_s={up:g} + shape.down_s={shape.down_s:g} is longer than "
                f"duration_s={d:g}; shorten the ramp or lengthen the run"
            )
    elif isinstance(shape, Step):
        if shape.step_users > p.users:
            raise ValueError(f"shape.step_users={shape.step_users} is more than users={p.users}")
        if shape.every_s >= d:
            raise ValueError(
                f"shape.every_s={shape.every_s:g} is not shorter than duration_s={d:g}: the run "
                "would never take a second step"
            )
    elif isinstance(shape, Spike):
        if shape.base_users >= p.users:
            raise ValueError(
                f"shape.base_users={shape.base_users} must be fewer than users={p.users} (the "
                "spike's peak)"
            )
        if shape.at_s + shape.for_s > d:
            raise ValueError(
                f"shape.at_s={shape.at_s:g} + shape.for_s={shape.for_s:g} ends after "
                f"duration_s={d:g}; the spike must end inside the run"
            )
    elif isinstance(shape, Soak) and shape.up_s >= d:
        raise ValueError(f"shape.up_s={shape.up_s:g} is not shorter than duration_s={d:g}")
    is_open = p.shape.kind == "arrival_rate"
    if is_open and p.arrival_rate is None:
        raise ValueError(
            "arrival_rate=None: shape arrival_rate needs arrival_rate (iterations per second)"
        )
    if not is_open and p.arrival_rate is not None:
        raise ValueError(
            f"arrival_rate={p.arrival_rate:g} is only for shape arrival_rate (shape is "
            f"{p.shape.kind!r}); remove it or use shape: arrival_rate"
        )


def _check_bounds(p: LoadProfile) -> None:
    processes = p.distributed.processes
    if p.users > MAX_USERS_PER_PROCESS * processes:
        raise ValueError(
            f"users={p.users} is more than {MAX_USERS_PER_PROCESS} per Locust process "
            f"({processes} process(es)); spread them over Locust workers with "
            "distributed: {workers: N}"
        )
    low, high = p.think_time_s
    if not 0 <= low <= high <= 60:
        raise ValueError(f"think_time_s={list(p.think_time_s)!r} must be [min, max], 0..60 s")
    if not p.follow.poll_s <= p.follow.max_poll_s <= p.follow.timeout_s:
        raise ValueError(
            f"follow={p.follow.model_dump()!r} must have poll_s <= max_poll_s <= timeout_s"
        )
    if not _is_loopback(p.api.host) and p.api.token is None:
        raise ValueError(
            f"api.host={p.api.host!r} is not a loopback address, so api.token is required: "
            "anyone on the network could submit runs"
        )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_fault_window(
    index: int, fault: Any, duration_s: float, targets: tuple[str, ...]
) -> tuple[float, float]:
    """Check one fault window of a profile; returns its ``(start_s, end_s)``."""
    where = f"faults[{index}]"
    if not isinstance(fault, Mapping):
        raise ValueError(f"{where}={fault!r} must be a mapping (the fault plan format)")
    kind = fault.get("kind")
    if kind not in LOAD_FAULT_KINDS:
        raise ValueError(
            f"{where}.kind={kind!r} is not applied under load: a load run applies "
            f"{', '.join(LOAD_FAULT_KINDS)} faults on a timer (crash, step, store and clock "
            "faults belong in a scenario file)"
        )
    trigger = fault.get("trigger")
    at = trigger.get("at") if isinstance(trigger, Mapping) else None
    if not isinstance(trigger, Mapping) or set(trigger) != {"at"} or not _number(at):
        raise ValueError(
            f"{where}.trigger={trigger!r} must be {{at: SECONDS}}: a fault window starts at a "
            "time in the load run"
        )
    target = fault.get("target")
    if target not in targets:
        raise ValueError(
            f"{where}.target={target!r} is not a target of this load run; targets: "
            f"{', '.join(targets)} (the store's proxy exists when the store is PostgreSQL, a "
            "service's when it is listed under services)"
        )
    params = fault.get("params") or {}
    action = params.get("action") if isinstance(params, Mapping) else None
    duration = fault.get("duration")
    if kind == "process" and action in _INSTANT_ACTIONS:
        if duration not in (None, 0, 0.0):
            raise ValueError(
                f"{where}.duration={duration!r}: a {action} strikes once and has no window; "
                "remove duration"
            )
        duration = 0.0
    elif not _number(duration) or not duration:
        raise ValueError(
            f"{where}.duration={duration!r} must be a positive number of seconds: the window "
            "heals after it"
        )
    assert isinstance(at, int | float) and isinstance(duration, int | float)
    start, end = float(at), float(at) + float(duration)
    if start >= duration_s or end > duration_s:
        raise ValueError(
            f"{where} runs from {start:g} s to {end:g} s, outside the run "
            f"(duration_s={duration_s:g}); a window must start and heal inside the load"
        )
    return start, end


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0

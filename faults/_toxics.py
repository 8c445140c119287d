"""The toxics Toxiproxy v2 has, and the attributes each takes (checked before any call)."""

from __future__ import annotations

from collections.abc import Mapping

TOXIC_ATTRIBUTES: Mapping[str, tuple[str, ...]] = {
    "latency": ("latency", "jitter"),
    "bandwidth": ("rate",),
    "slow_close": ("delay",),
    "timeout": ("timeout",),
    "reset_peer": ("timeout",),
    "slicer": ("average_size", "size_variation", "delay"),
    "limit_data": ("bytes",),
}

STREAMS = ("upstream", "downstream")

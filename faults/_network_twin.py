"""The in-memory twin of Toxiproxy, for the simulation: network faults around step calls.

The twin is both the injector of ``network`` and ``partition`` faults and an interceptor around
actions. ``routes`` says which steps talk through which proxy (``{"payment": ["charge_payment",
"refund_payment"]}``). Each toxic is modelled by what the calling step sees:

| toxic | what the step sees |
|---|---|
| latency | the call takes ``latency`` (+ up to ``jitter``) ms longer, on the step's clock |
| bandwidth, slicer, slow_close | a slower call (modelled as latency) |
| timeout, partition | the request never arrives: a ConnectionError, no effect applied |
| reset_peer, limit_data | the request arrives and the effect is applied, but the answer is lost |

The last row is the one that matters most for idempotency: a retry after a lost answer applies
the effect again unless the service honours idempotency keys.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ._errors import FaultPlanError


class NetworkTwinError(ConnectionError):
    """What a step sees when the simulated network fails it."""


class NetworkTwin:
    """In-memory network faults for the steps routed through each named proxy."""

    def __init__(self, routes: Mapping[str, Sequence[str]], *, seed: int = 0) -> None:
        self.routes = {proxy: set(steps) for proxy, steps in routes.items()}
        self._active: dict[str, list[Any]] = {proxy: [] for proxy in routes}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _proxy(self, fault: Any) -> list[Any]:
        if fault.target not in self._active:
            raise FaultPlanError(
                f"{fault.kind} fault target={fault.target!r} is not a proxy of this scenario; "
                f"proxies: {', '.join(sorted(self._active)) or 'none'}."
            )
        return self._active[fault.target]

    def inject(self, fault: Any) -> str:
        """Put a toxic (or a partition) on the target proxy."""
        with self._lock:
            self._proxy(fault).append(fault)
        return f"twin of proxy {fault.target!r}"

    def heal(self, fault: Any) -> None:
        """Take it off again."""
        with self._lock:
            active = self._proxy(fault)
            if fault in active:
                active.remove(fault)

    def __call__(self, ctx: Any, call: Callable[[], Any]) -> Any:
        with self._lock:
            faults = [
                fault
                for proxy, steps in self.routes.items()
                if ctx.step in steps
                for fault in self._active[proxy]
                if fault.kind == "partition"
                or self._rng.random() < float(fault.params.get("toxicity", 1.0))
            ]
        lose_answer = False
        for fault in faults:
            toxic = "partition" if fault.kind == "partition" else fault.params["toxic"]
            attributes = fault.params.get("attributes", {}) if fault.kind == "network" else {}
            if toxic in ("partition", "timeout"):
                raise NetworkTwinError(
                    f"{toxic} on proxy {fault.target!r}: step {ctx.step!r} got no connection"
                )
            if toxic in ("reset_peer", "limit_data"):
                lose_answer = True
            elif toxic == "latency":
                jitter = int(attributes.get("jitter", 0))
                extra = self._rng.uniform(0, jitter) if jitter else 0.0
                ctx.clock.sleep((int(attributes.get("latency", 0)) + extra) / 1000)
            else:  # bandwidth, slicer, slow_close: slower, not broken
                ctx.clock.sleep(int(attributes.get("delay", 100)) / 1000)
        output = call()
        if lose_answer:
            raise NetworkTwinError(
                f"connection reset by peer after step {ctx.step!r} sent its request: the "
                "effect may be applied, the answer is lost"
            )
        return output

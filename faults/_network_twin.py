"""The in-memory twin of Toxiproxy, for the simulation: toxics and partitions on named proxies.

A proxy stands for a service, as a real Toxiproxy proxy does: a fault on ``payment`` hits every
call to the payment service, whoever makes it (the charge and its refund alike). Calls reach a
proxy two ways: a recording service calls :meth:`NetworkTwin.call` with its own name, and
``routes`` name the steps whose action or compensation talks to a proxy in code chaosflow cannot
see (``{"payment": ["charge", "notify:compensation"]}``; a bare step name is both).

A call is a request and an answer, separate events in (virtual) time. Each toxic acts on its
``stream``: ``upstream`` is the request (client to service), ``downstream`` the answer.

| toxic | upstream (the request) | downstream (the answer; the default) |
|---|---|---|
| latency (+ jitter) | arrives late: the effect lands late | lands; the answer is late |
| bandwidth, slicer, slow_close | a slower request | a slower answer |
| timeout | never arrives; fails after ``timeout`` | lands; no answer, fails after ``timeout`` |
| reset_peer | cut before it lands: fails | lands; reset, the answer is lost |
| limit_data | cut: fails, nothing applied | lands; the answer is cut, lost |
| partition (proxy disabled) | connection refused: nothing applied | - |

(``timeout`` 0 holds the call until the fault heals; a ``reset_peer`` of 0 is at once.)

With a scheduler (the simulation's world) the request travels as a task of the network's own,
so a request already sent lands even after its caller timed out, gave up or died; a caller that
waits longer than its step's timeout is abandoned by the worker while the delivery goes on.
Without one, the delays are slept on the caller's clock in order.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from ._errors import FaultPlanError

NETWORK_GROUP = "network"
_SLOW_TOXICS = ("bandwidth", "slicer", "slow_close")


class NetworkTwinError(ConnectionError):
    """What a caller sees when the simulated network fails its call."""


class FutureLike(Protocol):
    """A result one task sets and another waits for."""

    def set_result(self, value: Any) -> None: ...
    def set_exception(self, error: BaseException) -> None: ...
    def result(self) -> Any: ...


class DoorbellLike(Protocol):
    """Wakes waiters (a healed fault wakes the calls it held)."""

    def ring(self) -> None: ...
    def wait(self, timeout: float) -> bool: ...


class SchedulerLike(Protocol):
    """What the twin needs of a simulated world: virtual sleep, tasks, futures, doorbells."""

    def sleep(self, seconds: float) -> None: ...
    def spawn(self, target: Callable[[], None], *, name: str, group: str | None = None) -> Any: ...
    def future(self) -> FutureLike: ...
    def doorbell(self) -> DoorbellLike: ...


class _ClockSleep(Protocol):
    def sleep(self, seconds: float) -> None: ...


class NetworkTwin:
    """In-memory network faults on named proxies, around the calls that go through them."""

    def __init__(
        self,
        routes: Mapping[str, Sequence[str]] | None = None,
        *,
        seed: int = 0,
        proxies: Iterable[str] | None = None,
        scheduler: SchedulerLike | None = None,
    ) -> None:
        """``proxies`` are the names a fault may target (with ``routes``' keys); None accepts
        any name, for services that make themselves known by calling."""
        self.routes = {proxy: tuple(entries) for proxy, entries in (routes or {}).items()}
        for proxy, entries in self.routes.items():
            for entry in entries:
                _, _, purpose = entry.partition(":")
                if purpose not in ("", "action", "compensation"):
                    raise FaultPlanError(
                        f"routes[{proxy!r}] entry {entry!r}: after ':' comes 'action' or "
                        "'compensation' (a bare step name routes both)."
                    )
        self.known = None if proxies is None else set(proxies) | set(self.routes)
        self.scheduler = scheduler
        self.calls: Counter[str] = Counter()  # calls per proxy, to tell a fault that met none
        self.in_flight = 0  # deliveries on their way
        self._active: dict[str, list[Any]] = {}
        self._bells: dict[int, DoorbellLike] = {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    # -- the Injector protocol ------------------------------------------------------------------

    def _check_target(self, fault: Any) -> str:
        target = str(fault.target)
        if self.known is not None and target not in self.known:
            raise FaultPlanError(
                f"{fault.kind} fault target={target!r} is not a proxy of this scenario; "
                f"proxies: {', '.join(sorted(self.known)) or 'none'}."
            )
        return target

    def inject(self, fault: Any) -> str:
        """Put a toxic (or a partition) on the target proxy."""
        target = self._check_target(fault)
        with self._lock:
            self._active.setdefault(target, []).append(fault)
            if self.scheduler is not None:
                self._bells[id(fault)] = self.scheduler.doorbell()
        return f"twin of proxy {target!r}"

    def heal(self, fault: Any) -> None:
        """Take it off again; calls it held go on."""
        with self._lock:
            active = self._active.get(str(fault.target), [])
            if fault in active:
                active.remove(fault)
            bell = self._bells.pop(id(fault), None)
        if bell is not None:
            bell.ring()

    # -- calls ----------------------------------------------------------------------------------

    def routed(self, step: str, purpose: str) -> list[str]:
        """The proxies a step's action or compensation talks through, by ``routes``."""
        return [
            proxy
            for proxy, entries in self.routes.items()
            if step in entries or f"{step}:{purpose}" in entries
        ]

    def __call__(self, ctx: Any, call: Callable[[], Any]) -> Any:
        """The interceptor: a routed step's whole action is a call through its proxies."""
        for proxy in reversed(self.routed(ctx.step, ctx.purpose)):
            call = _through(self, proxy, call, ctx.clock)
        return call()

    def call(
        self,
        proxy: str,
        send: Callable[[], Any],
        *,
        clock: _ClockSleep | None = None,
        ctx: Any = None,
    ) -> Any:
        """Send a request through ``proxy``: ``send()`` is what the service does on arrival.

        ``ctx`` (the caller's step context) skips the proxy when ``routes`` already put the
        whole step through it, so no call is slowed twice.
        """
        if ctx is not None and proxy in self.routed(
            str(getattr(ctx, "step", "")), str(getattr(ctx, "purpose", "action"))
        ):
            return send()
        with self._lock:
            self.calls[proxy] += 1
            faults = [
                fault
                for fault in self._active.get(proxy, [])
                if fault.kind == "partition"
                or self._rng.random() < float(fault.params.get("toxicity", 1.0))
            ]
            jitters = [self._rng.random() for _ in faults]
        if not faults:
            return send()
        plan = _Plan(proxy, faults, jitters)
        if plan.refused:
            raise NetworkTwinError(f"proxy {proxy!r} is down (partition): connection refused")
        if self.scheduler is None:
            sleeper = clock
            if sleeper is None:
                raise FaultPlanError("NetworkTwin.call needs a clock when it has no scheduler.")
            return self._deliver_inline(plan, send, sleeper)
        return self._deliver_in_flight(plan, send, self.scheduler)

    def _hold(self, plan: _Plan, fault: Any, seconds: float | None, sleep: _ClockSleep) -> None:
        """Wait ``seconds``: None not at all, 0 until the fault is healed (a timeout of 0)."""
        if seconds is None:
            return
        if seconds > 0:
            sleep.sleep(seconds)
            return
        bell = self._bells.get(id(fault))
        while bell is not None and fault in self._active.get(plan.proxy, []):
            bell.wait(3600.0)

    def _deliver_inline(self, plan: _Plan, send: Callable[[], Any], sleep: _ClockSleep) -> Any:
        sleep.sleep(plan.up)
        if plan.cut_up is not None:
            self._hold(plan, plan.cut_up[0], plan.cut_up[1], sleep)
            raise NetworkTwinError(plan.cut_up[2])
        output = send()
        sleep.sleep(plan.down)
        if plan.cut_down is not None:
            self._hold(plan, plan.cut_down[0], plan.cut_down[1], sleep)
            raise NetworkTwinError(plan.cut_down[2])
        return output

    def _deliver_in_flight(
        self, plan: _Plan, send: Callable[[], Any], scheduler: SchedulerLike
    ) -> Any:
        answer = scheduler.future()

        def deliver() -> None:
            try:
                answer.set_result(self._deliver_inline(plan, send, scheduler))
            except Exception as error:  # the service's own refusal, or the cut: the caller's
                answer.set_exception(error)
            finally:
                self.in_flight -= 1

        self.in_flight += 1
        scheduler.spawn(deliver, name=f"net-{plan.proxy}", group=NETWORK_GROUP)
        return answer.result()


def _through(
    twin: NetworkTwin, proxy: str, call: Callable[[], Any], clock: _ClockSleep
) -> Callable[[], Any]:
    return lambda: twin.call(proxy, call, clock=clock)


class _Plan:
    """What the active faults of one proxy do to one call: delays and cuts, per stream."""

    def __init__(self, proxy: str, faults: Sequence[Any], jitters: Sequence[float]) -> None:
        self.proxy = proxy
        self.refused = False
        self.up = self.down = 0.0
        # (fault, seconds to hold, message) for a request or an answer that never gets through;
        # hold None: at once, 0: until the fault is healed.
        self.cut_up: tuple[Any, float | None, str] | None = None
        self.cut_down: tuple[Any, float | None, str] | None = None
        for fault, jitter in zip(faults, jitters, strict=True):
            if fault.kind == "partition":
                self.refused = True
                continue
            toxic = fault.params["toxic"]
            attributes = fault.params.get("attributes", {})
            upstream = fault.params.get("stream", "downstream") == "upstream"
            if toxic == "latency":
                extra = jitter * int(attributes.get("jitter", 0))
                seconds = (int(attributes.get("latency", 0)) + extra) / 1000
                if upstream:
                    self.up += seconds
                else:
                    self.down += seconds
            elif toxic in _SLOW_TOXICS:
                seconds = int(attributes.get("delay", 100)) / 1000
                if toxic == "slicer":  # its delay is per slice, in microseconds
                    seconds = int(attributes.get("delay", 0)) / 1_000_000 * 10
                if upstream:
                    self.up += seconds
                else:
                    self.down += seconds
            else:  # timeout, reset_peer, limit_data: the stream is cut
                # How long the caller hangs before it sees the cut: a timeout toxic holds for
                # its timeout (0: until healed); a reset comes after its timeout (0: at once).
                timeout_ms = int(attributes.get("timeout", 0))
                hold: float | None = timeout_ms / 1000 if timeout_ms else None
                if toxic == "timeout" and not timeout_ms:
                    hold = 0.0
                if toxic == "limit_data":
                    hold = None
                message = f"{toxic} on proxy {proxy!r} " + (
                    "(upstream): the request never arrived, nothing was applied"
                    if upstream
                    else "(downstream): the request arrived and may be applied, the answer is lost"
                )
                if upstream:
                    self.cut_up = self.cut_up or (fault, hold, message)
                else:
                    self.cut_down = self.cut_down or (fault, hold, message)

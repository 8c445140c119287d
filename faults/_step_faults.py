"""Step faults: what a step meets from the services it calls, injected around its action.

A :class:`StepFaultInjector` is an interceptor (middleware): the orchestrator hands it the step's
context and a callable that runs the action. It reads only ``ctx.step``, ``ctx.attempt``,
``ctx.purpose``, ``ctx.run_id`` and ``ctx.clock`` (duck-typed), so ``faults`` imports nothing of
the orchestrator.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._crash import InjectedFault
from ._errors import FaultPlanError


class StepContextLike(Protocol):
    """What a step fault reads of the step's context."""

    @property
    def run_id(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def attempt(self) -> int: ...
    @property
    def purpose(self) -> str: ...
    @property
    def clock(self) -> Any: ...


class InjectedStepError(Exception):
    """An error a step fault raised in place of the service's answer."""


STEP_FAULT_KINDS = ("transient", "permanent", "latency", "hang", "duplicate", "bad_output")


@dataclass(frozen=True)
class StepFault:
    """One step fault.

    - ``transient``: the first ``attempts`` attempts fail, later ones go through.
    - ``permanent``: every attempt fails.
    - ``latency``: the call takes ``seconds`` longer, on the step's clock (virtual in a
      simulation). ``stream`` says where the time goes, as for a Toxiproxy toxic:
      ``downstream`` (the default) delays the answer, after the service applied the effect;
      ``upstream`` delays the request, so the effect itself lands late.
    - ``hang``: the request is held for ``seconds`` before it goes through, to run past the
      step's timeout; the effect lands when it ends, even if the step was given up on.
    - ``duplicate``: the same attempt is delivered twice (the action runs twice).
    - ``bad_output``: the action runs, and ``output`` is returned in place of its output.

    ``probability`` applies per call; ``purpose`` is ``action`` or ``compensation``.
    """

    kind: str
    step: str | None = None
    attempts: int = 1
    seconds: float = 0.0
    output: Any = None
    probability: float = 1.0
    purpose: str = "action"
    stream: str = "downstream"

    def __post_init__(self) -> None:
        if self.kind not in STEP_FAULT_KINDS:
            raise FaultPlanError(
                f"Step fault kind={self.kind!r} is not known; use one of "
                f"{', '.join(STEP_FAULT_KINDS)}."
            )
        if not 0.0 <= self.probability <= 1.0:
            raise FaultPlanError(
                f"Step fault {self.kind!r}: probability={self.probability!r} must be within 0..1."
            )
        if self.seconds < 0:
            raise FaultPlanError(
                f"Step fault {self.kind!r}: seconds={self.seconds!r} must not be negative."
            )
        if self.attempts < 1:
            raise FaultPlanError(
                f"Step fault {self.kind!r}: attempts={self.attempts!r} must be at least 1."
            )
        if self.stream not in ("upstream", "downstream"):
            raise FaultPlanError(
                f"Step fault {self.kind!r}: stream={self.stream!r} must be 'upstream' (the "
                "request is late: the effect lands late) or 'downstream' (the answer is late)."
            )
        if self.purpose not in ("action", "compensation"):
            raise FaultPlanError(
                f"Step fault {self.kind!r}: purpose={self.purpose!r} must be 'action' or "
                "'compensation'."
            )

    def applies_to(self, ctx: StepContextLike) -> bool:
        """Whether this fault targets the call ``ctx`` describes."""
        if self.step is not None and ctx.step != self.step:
            return False
        if ctx.purpose != self.purpose:
            return False
        return not (self.kind == "transient" and ctx.attempt > self.attempts)


@dataclass
class StepFaultInjector:
    """An interceptor that injects ``faults`` into matching calls, seeded for reproducibility."""

    faults: Sequence[StepFault] = ()
    seed: int = 0
    fired: list[InjectedFault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._faults = list(self.faults)

    # The Injector protocol, so a fault plan can switch step faults on and off over time.
    def inject(self, fault: Any) -> str:
        """Switch on the StepFault a plan's ``step`` fault stands for."""
        spec = fault.step_fault_spec()
        with self._lock:
            self._faults.append(spec)
        return f"{spec.kind} on {spec.step or 'every step'}"

    def heal(self, fault: Any) -> None:
        """Switch it off again."""
        spec = fault.step_fault_spec()
        with self._lock:
            if spec in self._faults:
                self._faults.remove(spec)

    def _strikes(self, fault: StepFault) -> bool:
        with self._lock:
            return fault.probability >= 1.0 or self._rng.random() < fault.probability

    def _record(self, fault: StepFault, ctx: StepContextLike) -> None:
        target = f"{ctx.run_id}/{ctx.step}#{ctx.attempt}"
        with self._lock:
            self.fired.append(InjectedFault(fault.kind, target, ctx.clock.now()))

    def __call__(self, ctx: StepContextLike, call: Callable[[], Any]) -> Any:
        with self._lock:
            current = list(self._faults)
        active = [f for f in current if f.applies_to(ctx) and self._strikes(f)]
        for fault in active:
            self._record(fault, ctx)
            if fault.kind in ("transient", "permanent"):
                raise InjectedStepError(
                    f"injected {fault.kind} error in {ctx.purpose} of step {ctx.step!r} "
                    f"(attempt {ctx.attempt})"
                )
            if fault.kind == "hang" or (fault.kind == "latency" and fault.stream == "upstream"):
                # The request is held on its way: the effect lands when the wait ends.
                ctx.clock.sleep(fault.seconds)
        output = call()
        for fault in active:
            if fault.kind == "latency" and fault.stream == "downstream":
                ctx.clock.sleep(fault.seconds)  # applied; the answer is late
            elif fault.kind == "duplicate":
                output = call()
            elif fault.kind == "bad_output":
                output = fault.output
        return output

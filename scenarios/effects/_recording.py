"""A recording test double of the services a workflow calls: the receiving side of a history.

:class:`RecordingService` applies and undoes effects by idempotency key and records each in the
run's ledger. In a simulation its calls travel the simulated network (so a toxic on the proxy
of its name delays or cuts them) and land in the simulation's ledger; elsewhere they go straight
to the ledger the ``CHAOSFLOW_LEDGER`` environment variable names.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from .._errors import LedgerError
from ._ledger import LEDGER_ENV, EffectLedger, Ledger

T = TypeVar("T")


class CallContext(Protocol):
    """What a service reads of the caller's step context."""

    @property
    def run_id(self) -> str: ...
    @property
    def step(self) -> str: ...
    @property
    def idempotency_key(self) -> str: ...


class Transport(Protocol):
    """How a service's call travels: ``(service name, caller's context, what the service does
    on arrival) -> the answer``. The simulation's network twin is one."""

    def __call__(self, service: str, ctx: CallContext, send: Callable[[], Any]) -> Any: ...


class LateRequestRefused(Exception):
    """A service refused to apply what it had already undone (it remembers the undo)."""


class _Simulation:
    def __init__(self, ledger: Ledger, transport: Transport | None) -> None:
        self.ledger = ledger
        self.transport = transport


# The simulation runs in one thread and installs itself for its duration: services built at
# import time (module-level `service("payment")`) find the running simulation's ledger and network.
_simulations: list[_Simulation] = []


@contextmanager
def simulated_services(ledger: Ledger, transport: Transport | None = None) -> Iterator[None]:
    """While the block runs, every recording service writes to ``ledger`` and sends its calls
    through ``transport`` (the simulation installs this around a run)."""
    _simulations.append(_Simulation(ledger, transport))
    try:
        yield
    finally:
        _simulations.pop()


def in_simulation() -> bool:
    """Whether a simulation has installed its ledger (services then stay in-process)."""
    return bool(_simulations)


_ledgers: dict[str, EffectLedger] = {}


def ledger_from_env() -> Ledger:
    """The running simulation's ledger, or the file the CHAOSFLOW_LEDGER variable names."""
    if _simulations:
        return _simulations[-1].ledger
    path = os.environ.get(LEDGER_ENV)
    if not path:
        raise LedgerError(
            f"No effect ledger configured: set {LEDGER_ENV} to a file path, or give the "
            "RecordingService a ledger. The scenario runner sets it for you."
        )
    if path not in _ledgers:
        _ledgers[path] = EffectLedger(path)
    return _ledgers[path]


class RecordingService:
    """A stand-in for an external service that records every effect it applies.

    With ``honour_keys=True`` it applies each idempotency key once, as a well-behaved payment API
    does; with ``honour_keys=False`` it applies every call, to show what a non-idempotent service
    does to a workflow under retries and crashes. With ``verify_undo=False`` it undoes without
    looking for the effect, as a refund API that credits the card whether or not it was charged.
    With ``refuse_after_undo=True`` an undo that found nothing is remembered and a request for
    the same run and step that arrives later is refused (:class:`LateRequestRefused`), as a
    payment API that voids an authorisation before it arrives does.
    """

    def __init__(
        self,
        name: str,
        ledger: Ledger | None = None,
        *,
        honour_keys: bool = True,
        verify_undo: bool = True,
        refuse_after_undo: bool = False,
    ) -> None:
        self.name = name
        self._ledger = ledger
        self.honour_keys = honour_keys
        self.verify_undo = verify_undo
        self.refuse_after_undo = refuse_after_undo

    @property
    def ledger(self) -> Ledger:
        """The ledger this service writes to."""
        return self._ledger or ledger_from_env()

    def _send(self, ctx: CallContext, arrive: Callable[[], T]) -> T:
        transport = _simulations[-1].transport if _simulations else None
        if transport is None:
            return arrive()
        result: T = transport(self.name, ctx, arrive)
        return result

    def apply(self, ctx: CallContext, **payload: Any) -> dict[str, Any]:
        """Apply the effect keyed by ``ctx.idempotency_key``; returns the service's receipt."""
        return self._send(ctx, lambda: self.receive_apply(ctx, payload))

    def compensate(self, ctx: CallContext, **payload: Any) -> dict[str, Any] | None:
        """Undo the effect this service applied for ``ctx``'s run and step.

        Returns None when nothing was applied (nothing to undo), as a real refund API that finds
        no charge would.
        """
        return self._send(ctx, lambda: self.receive_compensate(ctx, payload))

    # What the service does when a request arrives (after the network, if any).

    def receive_apply(self, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        """Apply a request that has arrived."""
        ledger = self.ledger
        with ledger.atomically():
            if self.refuse_after_undo and ledger.voided(self.name, ctx.run_id, ctx.step):
                raise LateRequestRefused(
                    f"{self.name}: {ctx.idempotency_key!r} arrived after its undo; refused"
                )
            return self._insert(ledger, "apply", ctx, payload)

    def receive_compensate(
        self, ctx: CallContext, payload: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Undo, for a request that has arrived."""
        ledger = self.ledger
        with ledger.atomically():
            applied = ledger.find(self.name, "apply", run_id=ctx.run_id, step=ctx.step)
            if applied is None:
                if self.refuse_after_undo:
                    ledger.void(self.name, ctx.run_id, ctx.step)
                if self.verify_undo:
                    return None
            return self._insert(ledger, "compensate", ctx, payload)

    def _insert(
        self, ledger: Ledger, kind: str, ctx: CallContext, payload: dict[str, Any]
    ) -> dict[str, Any]:
        key = ctx.idempotency_key
        if self.honour_keys:
            seen = ledger.find(self.name, kind, key=key)
            if seen is not None:
                return {"service": self.name, "effect": seen, "replayed": True}
        seq = ledger.insert(self.name, kind, key, ctx.run_id, ctx.step, payload)
        return {"service": self.name, "effect": seq, "replayed": False}

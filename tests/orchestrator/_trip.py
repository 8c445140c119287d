"""The trip booking of a peer's saga conformance list: flight, hotel, card, confirmation.

Each step and each compensation writes to a side store (:class:`SideStore`, the "services"), so
a test reads what was applied and undone without trusting the orchestrator. The run's input
says what goes wrong, and where:

- ``{"refuse": STEP}``: the service refuses (a definite failure: nothing applied);
- ``{"timeout_after_apply": STEP}``: the effect lands, then the answer never comes;
- ``{"timeout_before_apply": STEP}``: the call hangs past the timeout and never lands;
- ``{"smtp_down": true}``: the confirmation fails with an error nobody declared;
- ``{"undo_fails": STEP}``: that step's compensation fails every time, with a code.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from orchestrator import BusinessError, RetryPolicy, Step, StepContext, Workflow

FAST = RetryPolicy(max_attempts=3, initial_interval=0.01, max_interval=0.01, jitter=False)
TIMEOUT = 5.0  # seconds, on the step's clock (virtual in these tests)


class FlightUnavailable(BusinessError):
    """The airline has no seat: a typed business error, definite without any declaration."""


class HotelFull(Exception):
    """The hotel refuses: declared definite on its step by name (the serialisable form)."""

    code = "hotel_full"


class CardDeclined(Exception):
    """The bank declines the card: declared definite on its step, retried like any error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = "card_declined"


class SmtpDown(Exception):
    """The mail server is gone: nobody declared it, so the outcome is unknown."""


class UndoRefused(Exception):
    """A compensation that fails for good."""

    code = "undo_refused"


@dataclass
class SideStore:
    """The services' own record: what each step applied and undid, and every call made."""

    applied: dict[str, str] = field(default_factory=dict)  # idempotency key -> step
    undone: set[str] = field(default_factory=set)  # keys of effects undone
    calls: list[tuple[str, str]] = field(default_factory=list)  # (purpose, step), in order
    lock: threading.Lock = field(default_factory=threading.Lock)

    def apply(self, ctx: StepContext) -> dict[str, Any]:
        with self.lock:
            self.applied.setdefault(ctx.idempotency_key, ctx.step)
        return {"booked": ctx.step}

    def undo(self, ctx: StepContext) -> bool:
        """Undo the step's effect if there is one; nothing to undo is not an error."""
        key = f"{ctx.run_id}:{ctx.step}"
        with self.lock:
            if key in self.applied:
                self.undone.add(key)
                return True
            return False

    def record(self, purpose: str, step: str) -> None:
        with self.lock:
            self.calls.append((purpose, step))

    def standing(self, run_id: str) -> set[str]:
        """The steps of ``run_id`` whose effect is applied and not undone."""
        with self.lock:
            return {
                step
                for key, step in self.applied.items()
                if key.startswith(f"{run_id}:") and key not in self.undone
            }

    def undos(self) -> list[str]:
        """The steps whose compensation was called, in call order."""
        return [step for purpose, step in self.calls if purpose == "undo"]


STEPS = ("reserve_flight", "reserve_hotel", "charge_card", "send_confirmation")


def trip_workflow(side: SideStore, *, name: str = "trip") -> Workflow:
    """The four-step trip, each step after the one before, on ``side``."""

    def action(ctx: StepContext) -> dict[str, Any]:
        side.record("do", ctx.step)
        plan: Mapping[str, Any] = ctx.input
        if plan.get("timeout_before_apply") == ctx.step:
            # The client's own gateway gives up before the request reaches the service: the
            # call outlives the step's timeout and never lands (a call that still landed late
            # would be the simulation's zombie effect, tests/scenarios).
            ctx.clock.sleep(TIMEOUT * 10)
            raise TimeoutError(f"{ctx.step}: the gateway gave up before the request went out")
        if plan.get("refuse") == ctx.step:
            raise _refusal(ctx.step)
        if ctx.step == "send_confirmation" and plan.get("smtp_down"):
            raise SmtpDown("connection to smtp.example:25 reset")
        receipt = side.apply(ctx)
        if plan.get("timeout_after_apply") == ctx.step:
            ctx.clock.sleep(TIMEOUT * 10)
        return receipt

    def undo(ctx: StepContext) -> None:
        side.record("undo", ctx.step)
        if ctx.input.get("undo_fails") == ctx.step:
            raise UndoRefused(f"{ctx.step}: the partner system refuses cancellations today")
        side.undo(ctx)

    return Workflow(
        name,
        [
            Step("reserve_flight", action, undo, retry=FAST, timeout=TIMEOUT),
            Step(
                "reserve_hotel",
                action,
                undo,
                after=("reserve_flight",),
                retry=FAST,
                timeout=TIMEOUT,
                definite_errors=("tests.orchestrator._trip.HotelFull",),
            ),
            Step(
                "charge_card",
                action,
                undo,
                after=("reserve_hotel",),
                retry=FAST,
                compensation_retry=FAST,
                timeout=TIMEOUT,
                definite_errors=(CardDeclined,),
            ),
            # An e-mail cannot be unsent: no compensation.
            Step(
                "send_confirmation",
                action,
                after=("charge_card",),
                retry=FAST,
                timeout=TIMEOUT,
            ),
        ],
    )


def _refusal(step: str) -> Exception:
    if step == "reserve_flight":
        return FlightUnavailable("no seat left on LH 400", code="no_seats")
    if step == "reserve_hotel":
        return HotelFull("Hotel Adlon is full on 2025-06-01")
    if step == "charge_card":
        return CardDeclined("card ending 4242 declined: insufficient funds")
    raise AssertionError(f"no refusal is defined for {step!r}")

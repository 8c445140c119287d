"""A catalogue of deliberately broken workflows and services, and the correct saga they break.

Each broken variant differs from the correct one in one way a real team gets wrong.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from examples import order_saga as saga
from orchestrator import RetryPolicy, Step, StepContext, Workflow
from scenarios import RecordingService

payment = RecordingService("payment")
careless_payment = RecordingService("payment", honour_keys=False)
blind_refunds = RecordingService("payment", verify_undo=False)
stock = RecordingService("stock")


class CardDeclined(Exception):
    """The card is refused before anything is charged: retrying cannot help."""


class NothingToRefund(Exception):
    """The broken refund's complaint when it finds no charge."""


PATIENT = RetryPolicy(
    max_attempts=5, initial_interval=0.5, max_interval=1.0, non_retryable=(CardDeclined,)
)
# The carrier's API answers after an hour on an order's first call; a step timeout cuts that.
CARRIER_HANG = 3600.0
SHIP_TIMEOUT = 30.0


def _fresh_key(ctx: StepContext) -> Any:
    # The bug: a new idempotency key on every attempt, so the service cannot deduplicate.
    return SimpleNamespace(
        run_id=ctx.run_id, step=ctx.step, idempotency_key=f"{ctx.run_id}:{uuid.uuid4().hex}"
    )


def _check_card(ctx: StepContext) -> None:
    if ctx.input.get("card") == "declined":
        raise CardDeclined(f"card declined for run {ctx.run_id!r}")


def _ship_with_slow_carrier(ctx: StepContext) -> Any:
    if ctx.attempt == 1:
        ctx.clock.sleep(CARRIER_HANG)
    return saga.ship(ctx)


def build(
    *,
    charge: Any = None,
    refund: Any = "default",
    reserve_undo: Any = None,
    ship_timeout: float | None = SHIP_TIMEOUT,
    slow_carrier: bool = True,
) -> Workflow:
    def default_charge(ctx: StepContext) -> Any:
        _check_card(ctx)
        return payment.apply(ctx, amount=ctx.input["amount"])

    def default_refund(ctx: StepContext) -> None:
        payment.compensate(ctx)

    return Workflow(
        "order",
        [
            Step("reserve_stock", saga.reserve_stock, reserve_undo or saga.release_stock),
            Step(
                "charge_payment",
                charge or default_charge,
                default_refund if refund == "default" else refund,
                after=("reserve_stock",),
                retry=PATIENT,
                compensation_retry=PATIENT,
            ),
            Step(
                "ship",
                _ship_with_slow_carrier if slow_carrier else saga.ship,
                saga.cancel_shipment,
                after=("charge_payment",),
                retry=RetryPolicy(max_attempts=3, non_retryable=(saga.ShippingRefused,)),
                timeout=ship_timeout,
            ),
        ],
    )


correct = build()


def _charge_with_fresh_key(ctx: StepContext) -> Any:
    return payment.apply(_fresh_key(ctx), amount=ctx.input["amount"])


def _refund_with_fresh_key(ctx: StepContext) -> None:
    payment.compensate(_fresh_key(ctx))


def _careless_charge(ctx: StepContext) -> Any:
    return careless_payment.apply(ctx, amount=ctx.input["amount"])


def _refund_in_the_wrong_place(ctx: StepContext) -> None:
    # The bug: stock's compensation refunds the payment (and the payment's releases the stock),
    # so the undo order is inverted by hand.
    payment.compensate(
        SimpleNamespace(
            run_id=ctx.run_id, step="charge_payment", idempotency_key=ctx.idempotency_key
        )
    )


def _release_in_the_wrong_place(ctx: StepContext) -> None:
    stock.compensate(
        SimpleNamespace(
            run_id=ctx.run_id, step="reserve_stock", idempotency_key=ctx.idempotency_key
        )
    )


def _refund_or_complain(ctx: StepContext) -> None:
    # The bug: a refund that finds no charge is an error here, yet a declined card (or a
    # charge that never reached the service) leaves exactly nothing to refund.
    if payment.compensate(ctx) is None:
        raise NothingToRefund(f"no charge to refund for run {ctx.run_id!r}")


def _blind_refund(ctx: StepContext) -> None:
    blind_refunds.compensate(ctx)


SHIPS = {"sku": "book-1", "qty": 1, "amount": 1200, "address": "1 Main St"}
ROLLS_BACK = {"sku": "desk-2", "qty": 1, "amount": 23000, "address": "undeliverable"}
DECLINED = {"sku": "lamp-7", "qty": 1, "amount": 4500, "address": "9 Elm Rd", "card": "declined"}
ORDERS = [SHIPS, ROLLS_BACK, DECLINED]

# name: (the broken workflow, the anomaly that must catch it, the orders that exercise it)
BROKEN = {
    "fresh key on every attempt": (
        build(charge=_charge_with_fresh_key),
        "duplicate_effect",
        [SHIPS],
    ),
    "missing compensation": (build(refund=None), "missing_compensation", [ROLLS_BACK]),
    "non-idempotent compensation": (
        build(refund=_refund_with_fresh_key),
        "duplicate_effect",
        [ROLLS_BACK],
    ),
    "service ignores idempotency keys": (
        build(charge=_careless_charge),
        "duplicate_effect",
        [SHIPS],
    ),
    "compensation that fails when there is nothing to undo": (
        build(refund=_refund_or_complain),
        "contract_violation",
        [DECLINED],
    ),
    "refund issued though nothing was charged": (
        build(refund=_blind_refund),
        "spurious_compensation",
        [DECLINED],
    ),
    "step without timeout that hangs": (
        build(ship_timeout=None),
        "stuck_workflow",
        [SHIPS],
    ),
    "compensation order inverted by hand": (
        build(refund=_release_in_the_wrong_place, reserve_undo=_refund_in_the_wrong_place),
        "compensation_order",
        [ROLLS_BACK],
    ),
}

# For scenario files, which name workflows as module:attribute.
careless_saga = BROKEN["service ignores idempotency keys"][0]


def saga_charging(service: RecordingService, *, refund: bool = True) -> Workflow:
    """The saga with its charge (and refund, unless ``refund=False``) going to ``service``."""

    def charge(ctx: StepContext) -> Any:
        return service.apply(ctx, amount=ctx.input["amount"])

    def undo(ctx: StepContext) -> None:
        service.compensate(ctx)

    return build(charge=charge, refund=undo if refund else None, slow_carrier=False)

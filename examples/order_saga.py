"""An order saga: reserve stock -> charge payment -> ship, each undone by a compensation.

The services are recording test doubles: every effect they apply lands in an effect ledger that
the checkers read, independently of the orchestrator's store. Each call passes the step's
idempotency key, so a retried or recovered step applies its effect once.

Input: ``{"sku": str, "qty": int, "amount": int, "address": str}``; an address of
``"undeliverable"`` makes shipping refuse the order for good, and the saga rolls back. The
refusal is declared definite (the carrier took nothing), so only the charge and the stock are
undone; a shipping call that times out would be undone too, since the parcel may have gone.
"""

from __future__ import annotations

from typing import Any

from orchestrator import RetryPolicy, Step, StepContext, Workflow
from scenarios import service

# In-process recording doubles by default; real HTTP services when CHAOSFLOW_SERVICE_<NAME>_URL
# is set (the real-mode runner points them through Toxiproxy).
stock = service("stock")
payment = service("payment")
shipping = service("shipping")


class ShippingRefused(Exception):
    """The carrier refuses the address: retrying cannot help, and nothing was shipped."""

    code = "address_refused"


def reserve_stock(ctx: StepContext) -> dict[str, Any]:
    """Reserve the items."""
    return stock.apply(ctx, sku=ctx.input["sku"], qty=ctx.input.get("qty", 1))


def release_stock(ctx: StepContext) -> None:
    """Give the reservation back."""
    stock.compensate(ctx)


def charge_payment(ctx: StepContext) -> dict[str, Any]:
    """Charge the customer."""
    return payment.apply(ctx, amount=ctx.input["amount"])


def refund_payment(ctx: StepContext) -> None:
    """Refund the charge."""
    payment.compensate(ctx)


def ship(ctx: StepContext) -> dict[str, Any]:
    """Hand the parcel to the carrier."""
    address = ctx.input.get("address", "")
    if address == "undeliverable":
        raise ShippingRefused(f"carrier refuses address={address!r}")
    return shipping.apply(ctx, address=address)


def cancel_shipment(ctx: StepContext) -> None:
    """Call the parcel back."""
    shipping.compensate(ctx)


def build_order_saga(*, version: int = 1) -> Workflow:
    """The order saga's definition."""
    return Workflow(
        "order",
        [
            Step("reserve_stock", reserve_stock, release_stock),
            Step("charge_payment", charge_payment, refund_payment, after=("reserve_stock",)),
            Step(
                "ship",
                ship,
                cancel_shipment,
                after=("charge_payment",),
                retry=RetryPolicy(max_attempts=3, non_retryable=(ShippingRefused,)),
                definite_errors=(ShippingRefused,),
            ),
        ],
        version=version,
    )


order_saga = build_order_saga()

# The demo's orders: the last one cannot be shipped, so its saga must roll back cleanly.
DEMO_ORDERS = [
    {"sku": "book-1", "qty": 1, "amount": 1200, "address": "1 Main St"},
    {"sku": "lamp-7", "qty": 2, "amount": 4500, "address": "9 Elm Rd"},
    {"sku": "mug-3", "qty": 4, "amount": 1600, "address": "22 Oak Ave"},
    {"sku": "desk-2", "qty": 1, "amount": 23000, "address": "undeliverable"},
]

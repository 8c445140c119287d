"""Small broken order sagas, each with its correct twin, and the scenario that catches each: a
latency fault past a step's timeout (a late answer), requests slowed past the retries (a late
request), a dependency that stays down, every crash point of an order that ships and of one
that rolls back.

Scenario files name these workflows as ``examples.saga_bugs:<name>``; the README's tutorial
runs ``examples/scenarios/late_answer.yaml`` and ``examples/scenarios/carrier_stays_down.yaml``,
and ``tests/scenarios/test_natural_scenarios.py`` runs every pair.
"""

from __future__ import annotations

from typing import Any

from examples import order_saga as saga
from orchestrator import RetryPolicy, Step, StepContext, Workflow
from scenarios import RecordingService

payment = RecordingService("payment")
voiding_payment = RecordingService("payment", refuse_after_undo=True)
carrier = RecordingService("carrier")
stock = RecordingService("stock")

CHARGE_TIMEOUT = 2.0


def _reserve(ctx: StepContext) -> Any:
    return stock.apply(ctx, sku=ctx.input.get("sku", "book"))


def _release(ctx: StepContext) -> None:
    stock.compensate(ctx)


def _refusing_carrier(ctx: StepContext) -> Any:
    if ctx.input.get("address") == "undeliverable":
        raise saga.ShippingRefused("carrier refuses the address")
    return carrier.apply(ctx, to=ctx.input.get("address", "home"))


def _saga(charge: Any, refund: Any, *, ship_retry: RetryPolicy | None = None) -> Workflow:
    return Workflow(
        "order",
        [
            Step("reserve_stock", _reserve, _release),
            Step(
                "charge_payment",
                charge,
                refund,
                after=("reserve_stock",),
                timeout=CHARGE_TIMEOUT,
                retry=RetryPolicy(max_attempts=3, initial_interval=0.5),
            ),
            Step(
                "ship",
                _refusing_carrier,
                lambda ctx: carrier.compensate(ctx),
                after=("charge_payment",),
                retry=ship_retry
                or RetryPolicy(max_attempts=4, non_retryable=(saga.ShippingRefused,)),
                definite_errors=(saga.ShippingRefused,),
            ),
        ],
    )


def _charge(ctx: StepContext) -> Any:
    return payment.apply(ctx, amount=ctx.input.get("amount", 100))


def _refund_by_key(ctx: StepContext) -> None:
    payment.compensate(ctx)  # the charge's idempotency key: works whatever the step recorded


# -- a late answer: the charge landed, its answer came after the step's timeout ----------------


def _refund_by_receipt(ctx: StepContext) -> None:
    # The bug: it refunds the charge the step's recorded receipt names. A charge whose answer
    # came too late has no receipt, so nothing is refunded, although the card was charged.
    if ctx.results.get("charge_payment") is not None:
        payment.compensate(ctx)


late_answer_bug = _saga(_charge, _refund_by_receipt)
late_answer_fixed = _saga(_charge, _refund_by_key)


# -- a late request: the charge arrives after the refund found nothing ------------------------


def _charge_voidable(ctx: StepContext) -> Any:
    return voiding_payment.apply(ctx, amount=ctx.input.get("amount", 100))


def _void_or_refund(ctx: StepContext) -> None:
    voiding_payment.compensate(ctx)  # an undo that finds nothing voids the key


# The bug: a payment API that forgets an undo that found nothing, so a request still on its way
# is charged after the refund. The fix: an API that voids the key (the refund is remembered).
late_request_bug = _saga(_charge, _refund_by_key)
late_request_fixed = _saga(_charge_voidable, _void_or_refund)


# -- a dependency that stays down ---------------------------------------------------------------

# The bug: shipping retries for ever, so a carrier that never comes back leaves the order open.
stays_down_bug = _saga(
    _charge,
    _refund_by_key,
    ship_retry=RetryPolicy(
        max_attempts=10**9,
        initial_interval=1.0,
        max_interval=5.0,
        non_retryable=(saga.ShippingRefused,),
    ),
)
# The fix: a bounded retry, after which the order is rolled back.
stays_down_fixed = _saga(_charge, _refund_by_key)


# -- a compensation bug that only the run that rolls back shows, after a crash -----------------


def _refund_unless_replayed(ctx: StepContext) -> None:
    # The bug: a receipt the service marked "replayed" is taken for "not charged by us". After a
    # crash between the charge and its record, the retried charge gets exactly that receipt; in
    # an order that rolls back, the charge is then never refunded.
    receipt = ctx.results.get("charge_payment") or {}
    if not receipt.get("replayed"):
        payment.compensate(ctx)


second_run_bug = _saga(_charge, _refund_unless_replayed)
second_run_fixed = _saga(_charge, _refund_by_key)

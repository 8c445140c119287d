"""The order saga with a classic bug, for the sample report: a fresh idempotency key per attempt.

``charge_payment`` makes up a new idempotency key on every attempt instead of passing
``ctx.idempotency_key``. When a worker dies after the payment service applied the charge and
before the orchestrator recorded it, the recovered step charges again under the new key and the
service cannot tell: a ``duplicate_effect``. ``examples/scenarios/careless_saga_explore.yaml``
crashes a worker at every hook point and finds it; ``make sample-report`` renders the result into
``docs/sample-report/``.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from examples.order_saga import (
    ShippingRefused,
    cancel_shipment,
    payment,
    refund_payment,
    release_stock,
    reserve_stock,
    ship,
)
from orchestrator import RetryPolicy, Step, StepContext, Workflow


def careless_charge(ctx: StepContext) -> dict[str, Any]:
    """Charge the customer under a key of its own making: the bug."""
    fresh = SimpleNamespace(
        run_id=ctx.run_id, step=ctx.step, idempotency_key=f"{ctx.run_id}:{uuid.uuid4().hex}"
    )
    return payment.apply(fresh, amount=ctx.input["amount"])


careless_saga = Workflow(
    "order",
    [
        Step("reserve_stock", reserve_stock, release_stock),
        Step("charge_payment", careless_charge, refund_payment, after=("reserve_stock",)),
        Step(
            "ship",
            ship,
            cancel_shipment,
            after=("charge_payment",),
            retry=RetryPolicy(max_attempts=3, non_retryable=(ShippingRefused,)),
        ),
    ],
)

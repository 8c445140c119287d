"""Workflows the load tests' worker processes import by module:attribute."""

from __future__ import annotations

import time
from typing import Any

from orchestrator import Step, StepContext, Workflow
from scenarios import service

stock = service("stock")
payment = service("payment")
# Long enough that the two workers of a load with six users are always inside a step (each
# run needs 2 x 0.8 s of a worker, six runs are always waiting), so a SIGKILL lands in one.
STEP_SECONDS = 0.8


def reserve(ctx: StepContext) -> dict[str, Any]:
    """Reserve, slowly."""
    time.sleep(STEP_SECONDS)
    return stock.apply(ctx, sku=ctx.input.get("sku", "x"))


def release(ctx: StepContext) -> None:
    """Give the reservation back."""
    stock.compensate(ctx)


def charge(ctx: StepContext) -> dict[str, Any]:
    """Charge, slowly."""
    time.sleep(STEP_SECONDS)
    return payment.apply(ctx, amount=ctx.input.get("amount", 1))


def refund(ctx: StepContext) -> None:
    """Refund the charge."""
    payment.compensate(ctx)


# Two slow steps with compensations: a SIGKILL under load lands while a step holds its lease.
slow_order = Workflow(
    "slow_order",
    [Step("reserve", reserve, release), Step("charge", charge, refund, after=("reserve",))],
)


def one_order(rng: Any, index: int) -> dict[str, Any]:
    """An input generator for the slow order."""
    return {"sku": f"sku-{rng.randrange(5)}", "amount": 100 + index}

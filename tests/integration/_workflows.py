"""Workflows that real worker processes in the integration tests import by module:attribute."""

from __future__ import annotations

import os
import time
from typing import Any

from orchestrator import (
    BusinessError,
    Canary,
    Concurrency,
    RateLimit,
    RetryPolicy,
    Step,
    StepContext,
    Workflow,
)
from scenarios import RecordingService, service

payment = RecordingService("payment")


def slow_charge(ctx: StepContext) -> dict[str, Any]:
    """A charge that takes two seconds: long enough to be paused in the middle of."""
    time.sleep(2.0)
    return payment.apply(ctx, amount=ctx.input.get("amount", 1))


slow_saga = Workflow("slow", [Step("charge", slow_charge)])


def _patient_charge(ctx: StepContext) -> dict[str, Any]:
    return _http_payment.apply(ctx, amount=ctx.input.get("amount", 1))


def _refund(ctx: StepContext) -> None:
    _http_payment.compensate(ctx)


_http_payment = service("payment")  # over HTTP when CHAOSFLOW_SERVICE_PAYMENT_URL is set

# One charge that retries patiently, so a network fault can be healed before it gives up.
patient_payment = Workflow(
    "patient",
    [
        Step(
            "charge",
            _patient_charge,
            _refund,
            retry=RetryPolicy(
                max_attempts=30, initial_interval=0.2, max_interval=0.2, jitter=False
            ),
        )
    ],
)


# A retry storm against a rate-limited dependency: a well-behaved API (it honours idempotency
# keys) whose answers are lost on every attempt but the fifth, so every run retries at once until
# then. Each call is also appended to a log at the dependency (CHAOSFLOW_STORM_LOG: when it was
# sent, by which process). The limit is all that paces the calls.
STORM_LIMIT = RateLimit("storm-api", rate=4.0, burst=2)
STORM_ATTEMPTS = 5
_storm_api = RecordingService("storm-api")


def _answer_lost(ctx: StepContext) -> dict[str, Any]:
    with open(os.environ["CHAOSFLOW_STORM_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{time.time()} {os.getpid()} {ctx.run_id} {ctx.attempt}\n")
    receipt = _storm_api.apply(ctx)
    if ctx.attempt < STORM_ATTEMPTS:
        raise ConnectionError("storm-api: the connection dropped before the answer")
    return receipt


def _gate(ctx: StepContext) -> None:
    # Holds every run back until the test has seen both workers claim: the storm then starts
    # with both processes running, not with one still importing.
    if not os.path.exists(os.environ["CHAOSFLOW_STORM_GO"]):
        raise RuntimeError("the storm has not started yet")


retry_storm = Workflow(
    "storm",
    [
        Step(
            "gate",
            _gate,
            retry=RetryPolicy(max_attempts=10_000, initial_interval=0.05, max_interval=0.05),
        ),
        Step(
            "call_api",
            _answer_lost,
            after=("gate",),
            retry=RetryPolicy(
                max_attempts=STORM_ATTEMPTS, initial_interval=0.0, max_interval=0.0, jitter=False
            ),
            rate_limit=STORM_LIMIT,
        ),
    ],
)


# A canary release gone wrong: version 2 of "orders" takes half the new runs, and its charge
# refuses every card (a definite failure); version 1 charges. Both reserve stock first, which a
# failed run gives back.
_stock, _payments = RecordingService("stock"), RecordingService("payments")


class CardRefused(BusinessError):
    """Version 2's bug: every card is refused."""


def _reserve(ctx: StepContext) -> dict[str, Any]:
    return _stock.apply(ctx, order=ctx.input["order"])


def _charge(ctx: StepContext) -> dict[str, Any]:
    return _payments.apply(ctx, order=ctx.input["order"])


def _charge_v2(ctx: StepContext) -> dict[str, Any]:
    raise CardRefused(f"v2 cannot charge order {ctx.input['order']}")


def _order_steps(charge: Any) -> list[Step]:
    return [
        Step("reserve", _reserve, lambda ctx: _stock.compensate(ctx)),
        Step(
            "charge",
            charge,
            lambda ctx: _payments.compensate(ctx),
            after=("reserve",),
            definite_errors=(CardRefused,),
        ),
    ]


orders_v1 = Workflow("orders", _order_steps(_charge))
orders_canary = Workflow(
    "orders",
    _order_steps(_charge_v2),
    version=2,
    canary=Canary(stable=orders_v1, share=0.5, max_failure_rate=0.2, window=10),
)


# Calls of a dependency that answers in a quarter of a second, under an adaptive limit: what a
# worker's health lines report.
_paced_api = RecordingService("paced-api")


def _paced_call(ctx: StepContext) -> dict[str, Any]:
    time.sleep(0.25)
    return _paced_api.apply(ctx)


paced_calls = Workflow(
    "paced",
    [Step("call", _paced_call, concurrency=Concurrency("paced-api", max=4, latency_target=0.1))],
)

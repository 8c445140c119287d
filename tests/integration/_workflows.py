"""Workflows that real worker processes in the integration tests import by module:attribute."""

from __future__ import annotations

import time
from typing import Any

from orchestrator import RetryPolicy, Step, StepContext, Workflow
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

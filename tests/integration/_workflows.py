"""Workflows that real worker processes in the integration tests import by module:attribute."""

from __future__ import annotations

import time
from typing import Any

from orchestrator import Step, StepContext, Workflow
from scenarios import RecordingService

payment = RecordingService("payment")


def slow_charge(ctx: StepContext) -> dict[str, Any]:
    """A charge that takes two seconds: long enough to be paused in the middle of."""
    time.sleep(2.0)
    return payment.apply(ctx, amount=ctx.input.get("amount", 1))


slow_saga = Workflow("slow", [Step("charge", slow_charge)])

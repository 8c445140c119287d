"""An order paid with a card service of your own (``examples.card_service``), over plain HTTP.

The workflow knows the service only by its URL: in a real-mode run chaosflow starts the service
from its command line, puts a Toxiproxy proxy named ``card`` in front of it and sets
``CHAOSFLOW_SERVICE_CARD_URL`` to the proxy, so every fault on ``card`` sits on this path. The
charge sends the step's idempotency key; whether a retried charge is applied once is up to the
service (``--keys memory`` forgets its keys on a restart, ``--keys durable`` does not).
"""

from __future__ import annotations

import os
from typing import Any

import httpx

from orchestrator import RetryPolicy, Step, StepContext, Workflow


class OrderDeclined(Exception):
    """The shop refuses the order for good: nothing was confirmed."""


def _card(path: str, ctx: StepContext, **body: Any) -> dict[str, Any]:
    url = os.environ["CHAOSFLOW_SERVICE_CARD_URL"]
    sent = {"key": ctx.idempotency_key, "run_id": ctx.run_id, "step": ctx.step, **body}
    response = httpx.post(f"{url}{path}", json=sent, timeout=5.0)
    response.raise_for_status()
    answer: dict[str, Any] = response.json()
    return answer


def _charge_card(ctx: StepContext) -> dict[str, Any]:
    return _card("/charge", ctx, amount=ctx.input.get("amount", 1))


def _refund_card(ctx: StepContext) -> None:
    _card("/refund", ctx)


def _confirm(ctx: StepContext) -> str:
    if ctx.input.get("decline"):
        raise OrderDeclined("the shop declines this order")
    return "confirmed"


card_order = Workflow(
    "card_order",
    [
        Step(
            "charge",
            _charge_card,
            _refund_card,
            # Patient: a restarting service refuses connections for a moment.
            retry=RetryPolicy(max_attempts=40, initial_interval=0.1, max_interval=0.2),
        ),
        Step(
            "confirm",
            _confirm,
            after=["charge"],
            retry=RetryPolicy(max_attempts=1),
            definite_errors=(OrderDeclined,),
        ),
    ],
)

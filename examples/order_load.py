"""Inputs for load-testing the order saga (``generator: examples.order_load:random_order``).

A generator is any callable ``(rng: random.Random, index: int) -> dict``; each Locust user calls
it with a random source of its own. One order in ``undeliverable_every`` cannot be shipped, so
under load the saga also rolls back (and the compensation rate is not zero).
"""

from __future__ import annotations

import random
from typing import Any

SKUS = ("book-1", "lamp-7", "mug-3", "desk-2", "pen-9", "chair-4")
ADDRESSES = ("1 Main St", "9 Elm Rd", "22 Oak Ave", "5 Pine Ct", "17 Birch Ln")


def random_order(
    rng: random.Random, index: int, *, undeliverable_every: int = 10
) -> dict[str, Any]:
    """An order saga input; about one in ``undeliverable_every`` rolls back at shipping."""
    undeliverable = rng.randrange(undeliverable_every) == 0
    return {
        "sku": rng.choice(SKUS),
        "qty": rng.randint(1, 5),
        "amount": rng.randint(100, 50_000),
        "address": "undeliverable" if undeliverable else rng.choice(ADDRESSES),
    }

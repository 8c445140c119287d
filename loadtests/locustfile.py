"""The Locust user that loads chaosflow's HTTP API: submit orders, then follow them.

Run only in a process of its own (``loadtests.run_headless`` or the ``locust`` command):
importing locust gevent-patches the whole process. Nothing in chaosflow imports this file.

Set ``CHAOSFLOW_HTTP_TOKEN`` when the server was started with a token. With
``CHAOSFLOW_LOCUST_STATS`` set to a path, the final request stats are written there in the
format of Locust's ``<prefix>_stats.csv``: that file is rewritten only once a second during the
run, so it can miss the last second's requests.
"""

from __future__ import annotations

import csv
import os
import random
from typing import Any

from locust import FastHttpUser, between, events, task
from locust.env import Environment
from locust.stats import PERCENTILES_TO_REPORT, StatsCSV

TOKEN_ENV = "CHAOSFLOW_HTTP_TOKEN"
FINAL_STATS_ENV = "CHAOSFLOW_LOCUST_STATS"

# The shape of examples.order_saga.DEMO_ORDERS; every address is deliverable, so a run that does
# not complete under load is the orchestrator's doing, not the order's.
_SKUS = ["book-1", "lamp-7", "mug-3", "desk-2", "pen-9", "chair-4"]
_ADDRESSES = ["1 Main St", "9 Elm Rd", "22 Oak Ave", "5 Pine Ct", "17 Birch Ln"]
_FOLLOW_AT_MOST = 50  # run ids each user keeps for following; old ones are dropped


def random_order(rng: random.Random) -> dict[str, Any]:
    """An order saga input with a deliverable address."""
    return {
        "sku": rng.choice(_SKUS),
        "qty": rng.randint(1, 5),
        "amount": rng.randint(100, 50_000),
        "address": rng.choice(_ADDRESSES),
    }


def _describe(response: Any) -> str:
    # On a connection error there is no status line and no body: say what there is.
    text = (response.text or "")[:200]
    error = getattr(response, "error", None)
    return f"status={response.status_code!r} error={error!r} body={text!r}"


def _json_field(response: Any, field: str) -> Any:
    try:
        body = response.json()
    except (TypeError, ValueError):  # no body, or not JSON
        return None
    return body.get(field) if isinstance(body, dict) else None


class OrderUser(FastHttpUser):
    """Submits random orders to ``POST /runs`` and follows them with ``GET /runs/{id}``."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        """Prepare the user's random source, auth header and the runs it follows."""
        self.rng = random.Random()
        token = os.environ.get(TOKEN_ENV)
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.run_ids: list[str] = []

    @task(2)
    def submit_order(self) -> None:
        """Submit one order; anything but 202 with a run id is a failure."""
        body = {"workflow": "order", "input": random_order(self.rng)}
        with self.client.post(
            "/runs", json=body, headers=self.headers, name="POST /runs", catch_response=True
        ) as response:
            run_id = _json_field(response, "run_id") if response.status_code == 202 else None
            if not isinstance(run_id, str) or not run_id:
                response.failure(f"expected 202 with a run_id, got {_describe(response)}")
                return
            response.success()
        self.run_ids = [*self.run_ids[-(_FOLLOW_AT_MOST - 1) :], run_id]

    @task(3)
    def follow_order(self) -> None:
        """Read the status of one submitted run; it must be known and name a state."""
        if not self.run_ids:
            # Nothing to follow yet: submit instead, so that every task makes a request.
            self.submit_order()
            return
        run_id = self.rng.choice(self.run_ids)
        with self.client.get(
            f"/runs/{run_id}", headers=self.headers, name="GET /runs/[id]", catch_response=True
        ) as response:
            if response.status_code != 200 or _json_field(response, "state") is None:
                response.failure(f"expected 200 with a state, got {_describe(response)}")
            else:
                response.success()


_environments: list[Environment] = []


@events.init.add_listener
def _remember_environment(environment: Environment, **_kwargs: Any) -> None:
    _environments.append(environment)


@events.quit.add_listener
def _write_final_stats(**_kwargs: Any) -> None:
    # `quit` fires after the users have stopped and the summary is printed: the stats are final.
    path = os.environ.get(FINAL_STATS_ENV)
    if not path or not _environments:
        return
    with open(path, "w", newline="") as file:
        StatsCSV(_environments[-1], PERCENTILES_TO_REPORT).requests_csv(csv.writer(file))

"""Schemathesis against the HTTP API's own OpenAPI document: no request yields a 5xx."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from examples.order_saga import order_saga
from orchestrator import Orchestrator, create_app

_folder = Path(tempfile.mkdtemp(prefix="chaosflow-fuzz-"))
os.environ.setdefault("CHAOSFLOW_LEDGER", str(_folder / "effects.db"))
_orchestrator = Orchestrator(f"sqlite:///{_folder / 'store.db'}")
_orchestrator.register(order_saga)
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(_orchestrator))


@schema.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_yields_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(checks=[not_a_server_error])

"""The example services over HTTP: real servers that record every effect they apply.

Each service (payment, stock, shipping, ...) is a small HTTP server with a ledger of its own (an
:class:`EffectLedger` file), so the effects of a real run are recorded at the receiving side,
across processes and through Toxiproxy. It honours idempotency keys unless started with
``honour_keys=False``, to show what a careless service does to a workflow.

Run one with ``python -m scenarios.http_service --name payment --port 8101 --ledger effects.db``.
:class:`HttpService` is its client, with the same ``apply``/``compensate`` calls as the
in-process :class:`RecordingService`; :func:`service` picks one or the other from the environment.
"""

from __future__ import annotations

import os
from typing import Any

import httpx
from fastapi import FastAPI
from pydantic import BaseModel, Field

from .._errors import LedgerError
from ._ledger import EffectLedger
from ._recording import CallContext, RecordingService, in_simulation

SERVICE_URL_ENV = "CHAOSFLOW_SERVICE_{name}_URL"


class EffectRequest(BaseModel):
    """One call to a service: apply an effect, or undo the one applied for (run, step)."""

    run_id: str = Field(max_length=256)
    step: str = Field(max_length=128)
    idempotency_key: str = Field(max_length=512)
    payload: dict[str, Any] = Field(default_factory=dict)


class _Context:
    def __init__(self, request: EffectRequest) -> None:
        self.run_id = request.run_id
        self.step = request.step
        self.idempotency_key = request.idempotency_key


def create_service_app(name: str, ledger: EffectLedger, *, honour_keys: bool = True) -> FastAPI:
    """The HTTP app of one example service."""
    recorder = RecordingService(name, ledger, honour_keys=honour_keys)
    app = FastAPI(title=f"chaosflow example service: {name}", version="1")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "service": name, "honour_keys": honour_keys}

    @app.post("/apply")
    def apply(request: EffectRequest) -> dict[str, Any]:
        return recorder.apply(_Context(request), **request.payload)

    @app.post("/compensate")
    def compensate(request: EffectRequest) -> dict[str, Any]:
        receipt = recorder.compensate(_Context(request), **request.payload)
        return receipt or {"service": name, "effect": None, "nothing_to_undo": True}

    return app


class HttpService:
    """A client of an example service, with the calls of :class:`RecordingService`."""

    def __init__(self, name: str, url: str, *, timeout: float = 5.0) -> None:
        self.name = name
        self.url = url.rstrip("/")
        self.timeout = timeout

    def _post(self, path: str, ctx: CallContext, payload: dict[str, Any]) -> dict[str, Any]:
        body = {
            "run_id": ctx.run_id,
            "step": ctx.step,
            "idempotency_key": ctx.idempotency_key,
            "payload": payload,
        }
        # A fresh connection per call: a partition or reset must not poison a pooled socket.
        response = httpx.post(f"{self.url}{path}", json=body, timeout=self.timeout)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    def apply(self, ctx: CallContext, **payload: Any) -> dict[str, Any]:
        """Ask the service to apply the effect keyed by ``ctx.idempotency_key``."""
        return self._post("/apply", ctx, payload)

    def compensate(self, ctx: CallContext, **payload: Any) -> dict[str, Any] | None:
        """Ask the service to undo what it applied for ``ctx``'s run and step."""
        result = self._post("/compensate", ctx, payload)
        return None if result.get("nothing_to_undo") else result


class ServiceSelector:
    """A service by name: over HTTP when ``CHAOSFLOW_SERVICE_<NAME>_URL`` is set, else in-process.

    The choice is made at each call, so one workflow definition serves the simulation and a real
    run (where the runner sets the URLs, through Toxiproxy).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._local = RecordingService(name)

    def _target(self) -> RecordingService | HttpService:
        if in_simulation():  # a simulation is a world of its own: no real service in it
            return self._local
        url = os.environ.get(SERVICE_URL_ENV.format(name=self.name.upper()))
        return HttpService(self.name, url) if url else self._local

    def apply(self, ctx: CallContext, **payload: Any) -> dict[str, Any]:
        """Apply the effect (see RecordingService.apply)."""
        return self._target().apply(ctx, **payload)

    def compensate(self, ctx: CallContext, **payload: Any) -> dict[str, Any] | None:
        """Undo the effect (see RecordingService.compensate)."""
        return self._target().compensate(ctx, **payload)


def service(name: str) -> ServiceSelector:
    """The service ``name``, chosen from the environment at each call."""
    if not name.isidentifier():
        raise LedgerError(f"Service name={name!r} must be an identifier, e.g. 'payment'.")
    return ServiceSelector(name)

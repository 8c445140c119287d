"""The recording client: what your own Python service calls to tell chaosflow what it applied.

Checkers judge from the receiving side, so a service of your own reports each effect where it
applies it (inside the transaction that applies it, ideally) and each undo where it undoes it::

    from scenarios import EffectRecorder

    recorder = EffectRecorder()            # reads the run's settings from the environment

    def charge(key, run_id, step, amount):
        ...apply the charge...
        recorder.applied(key, run_id=run_id, step=step, amount=amount)

In a real-mode run chaosflow sets ``CHAOSFLOW_LEDGER`` (the run's effect ledger) and
``CHAOSFLOW_SERVICE_NAME`` (the service's name in the scenario) for every service it starts.
Outside a run neither is set and the recorder does nothing, so the same service code ships.
The recorder only records: it does not decide what is a duplicate (your service does that, and
the checkers judge it).
"""

from __future__ import annotations

import os
from typing import Any

from .._errors import LedgerError
from ._ledger import LEDGER_ENV, EffectLedger

SERVICE_NAME_ENV = "CHAOSFLOW_SERVICE_NAME"


class EffectRecorder:
    """Records the effects a service applies and undoes, by idempotency key, into the run's
    effect ledger; a no-op when no ledger is configured (outside a chaosflow run)."""

    def __init__(self, service: str | None = None, ledger: str | os.PathLike[str] | None = None):
        self.service = service or os.environ.get(SERVICE_NAME_ENV) or ""
        path = ledger if ledger is not None else os.environ.get(LEDGER_ENV)
        if path and not self.service:
            raise LedgerError(
                f"EffectRecorder has a ledger ({str(path)!r}) but no service name: pass "
                f"service='payment' or set {SERVICE_NAME_ENV} (chaosflow sets it for the "
                "services it starts)."
            )
        if self.service and not self.service.isidentifier():
            raise LedgerError(
                f"EffectRecorder service={self.service!r} must be an identifier, e.g. 'payment'."
            )
        self._ledger = EffectLedger(path) if path else None

    @property
    def enabled(self) -> bool:
        """Whether effects are recorded (a ledger is configured)."""
        return self._ledger is not None

    def applied(self, key: str, *, run_id: str, step: str, **payload: Any) -> int | None:
        """Record that the service applied the effect of ``key`` (for ``run_id``'s ``step``);
        its ledger seq, or None when recording is off."""
        return self._record("apply", key, run_id, step, payload)

    def undone(self, key: str, *, run_id: str, step: str, **payload: Any) -> int | None:
        """Record that the service undid what it applied for ``run_id``'s ``step``."""
        return self._record("compensate", key, run_id, step, payload)

    def _record(
        self, kind: str, key: str, run_id: str, step: str, payload: dict[str, Any]
    ) -> int | None:
        if self._ledger is None:
            return None
        with self._ledger.atomically():
            return self._ledger.insert(self.service, kind, str(key), run_id, step, payload)

"""The receiving side: services that record every effect they apply, and the ledger they write.

Checkers judge the orchestrator from these records, never from its own bookkeeping.
"""

from ._http_services import (
    SERVICE_URL_ENV,
    HttpService,
    ServiceSelector,
    create_service_app,
    service,
)
from ._ledger import LEDGER_ENV, Effect, EffectLedger, Ledger, MemoryLedger
from ._recorder import SERVICE_NAME_ENV, EffectRecorder
from ._recording import (
    CallContext,
    LateRequestRefused,
    RecordingService,
    Transport,
    in_simulation,
    ledger_from_env,
    simulated_services,
)

__all__ = [
    "CallContext",
    "Effect",
    "EffectLedger",
    "EffectRecorder",
    "HttpService",
    "LEDGER_ENV",
    "LateRequestRefused",
    "Ledger",
    "MemoryLedger",
    "RecordingService",
    "SERVICE_NAME_ENV",
    "SERVICE_URL_ENV",
    "ServiceSelector",
    "Transport",
    "create_service_app",
    "in_simulation",
    "ledger_from_env",
    "service",
    "simulated_services",
]

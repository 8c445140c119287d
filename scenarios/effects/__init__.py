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
from ._ledger import (
    LEDGER_ENV,
    CallContext,
    Effect,
    EffectLedger,
    RecordingService,
    ledger_from_env,
)

__all__ = [
    "CallContext",
    "Effect",
    "EffectLedger",
    "HttpService",
    "LEDGER_ENV",
    "RecordingService",
    "SERVICE_URL_ENV",
    "ServiceSelector",
    "create_service_app",
    "ledger_from_env",
    "service",
]

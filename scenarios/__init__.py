"""Scenarios: run workflows under faults and decide, from what the services saw, if they held.

The checkers read a :class:`History` (the orchestrator's event log plus the effects recorded at
the receiving side by :class:`RecordingService`) and never the orchestrator's own view alone.
"""

from ._checkers import (
    CHECKERS,
    Checker,
    check,
    check_compensation_order,
    check_contracts,
    check_dependency_order,
    check_duplicate_effects,
    check_lost_workflows,
    check_missing_compensations,
    check_progress,
    check_spurious_compensations,
)
from ._effects import LEDGER_ENV, Effect, EffectLedger, RecordingService, ledger_from_env
from ._errors import LedgerError, ScenarioDefinitionError, ScenarioError
from ._history import History
from ._http_services import (
    SERVICE_URL_ENV,
    HttpService,
    ServiceSelector,
    create_service_app,
    service,
)
from ._runner import Scenario, ScenarioOutcome, decode_replay_token, run_in_process
from ._scenario_file import (
    EXPLORATIONS,
    Budget,
    FileOutcome,
    ScenarioFile,
    crash_points,
    load_scenario_file,
    replay,
    run_scenario_file,
)
from ._search import SearchResult, fault_plans, search
from ._verdict import ANOMALY_KINDS, Anomaly, CheckResult, Judgement, Verdict, merge_verdicts

__all__ = [
    "ANOMALY_KINDS",
    "Anomaly",
    "Budget",
    "CHECKERS",
    "CheckResult",
    "Checker",
    "EXPLORATIONS",
    "Effect",
    "EffectLedger",
    "FileOutcome",
    "History",
    "HttpService",
    "Judgement",
    "LEDGER_ENV",
    "LedgerError",
    "RecordingService",
    "SERVICE_URL_ENV",
    "Scenario",
    "ScenarioDefinitionError",
    "ScenarioError",
    "ScenarioFile",
    "ScenarioOutcome",
    "SearchResult",
    "ServiceSelector",
    "Verdict",
    "check",
    "check_compensation_order",
    "check_contracts",
    "check_dependency_order",
    "check_duplicate_effects",
    "check_lost_workflows",
    "check_missing_compensations",
    "check_progress",
    "check_spurious_compensations",
    "crash_points",
    "create_service_app",
    "decode_replay_token",
    "fault_plans",
    "ledger_from_env",
    "load_scenario_file",
    "merge_verdicts",
    "replay",
    "run_in_process",
    "run_scenario_file",
    "search",
    "service",
]

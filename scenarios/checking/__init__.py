"""Histories, checkers and verdicts: deciding from what the services saw whether a run held.

A :class:`History` is the orchestrator's event log plus the effects recorded at the receiving
side; each checker is a plain callable ``History -> CheckResult``; :func:`check` runs them and
merges their verdicts worst-first.
"""

from ._checkers import (
    CHECKERS,
    Checker,
    check,
    check_compensation_order,
    check_contracts,
    check_dependency_order,
    check_duplicate_effects,
    check_effects_after_compensation,
    check_lost_workflows,
    check_missing_compensations,
    check_progress,
    check_spurious_compensations,
)
from ._history import (
    ROLLBACK_END_EVENTS,
    TERMINAL_RUN_EVENTS,
    FaultWindow,
    History,
    LoggedEvent,
    event_detail,
)
from ._verdict import ANOMALY_KINDS, Anomaly, CheckResult, Judgement, Verdict, merge_verdicts

__all__ = [
    "ANOMALY_KINDS",
    "Anomaly",
    "CHECKERS",
    "CheckResult",
    "Checker",
    "FaultWindow",
    "History",
    "Judgement",
    "LoggedEvent",
    "ROLLBACK_END_EVENTS",
    "TERMINAL_RUN_EVENTS",
    "Verdict",
    "check",
    "check_compensation_order",
    "check_contracts",
    "check_dependency_order",
    "check_duplicate_effects",
    "check_effects_after_compensation",
    "check_lost_workflows",
    "check_missing_compensations",
    "check_progress",
    "check_spurious_compensations",
    "event_detail",
    "merge_verdicts",
]

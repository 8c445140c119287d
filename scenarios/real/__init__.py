"""Real mode: worker processes, SQLite or PostgreSQL, services over HTTP behind Toxiproxy,
crashes as SIGKILLs; judged by the same checkers as the simulation."""

from ._processes import ChildProcess, ServiceProcess, WorkerPool, start_services
from ._runner import (
    DEFAULT_SERVICES,
    REAL_DB_ENV,
    RealSettings,
    real_replay_token,
    real_settings,
    run_real,
    validate_real,
)

__all__ = [
    "ChildProcess",
    "DEFAULT_SERVICES",
    "REAL_DB_ENV",
    "RealSettings",
    "ServiceProcess",
    "WorkerPool",
    "real_replay_token",
    "real_settings",
    "run_real",
    "start_services",
    "validate_real",
]

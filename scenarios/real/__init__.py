"""Real mode: worker processes, SQLite or PostgreSQL, services over HTTP behind Toxiproxy,
crashes as SIGKILLs; judged by the same checkers as the simulation."""

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
    "DEFAULT_SERVICES",
    "REAL_DB_ENV",
    "RealSettings",
    "real_replay_token",
    "real_settings",
    "run_real",
    "validate_real",
]

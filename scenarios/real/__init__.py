"""Real mode: worker processes, SQLite or PostgreSQL, your own services (or the bundled
examples) behind Toxiproxy, crashes as SIGKILLs; judged by the same checkers as the simulation."""

from ._aimed import RUNNER_KINDS, AimedFault, AimedMailbox, is_aimed
from ._probes import ObservedEffects, read_probe
from ._processes import ChildProcess, WorkerPool
from ._runner import run_real
from ._service_spec import DEFAULT_SERVICES, ProbeSpec, ServiceSpec, parse_services
from ._services import SERVICE_FOLDER_ENV, SERVICE_NAME_ENV, ServiceProcess, start_services
from ._settings import (
    REAL_DB_ENV,
    STORE_PROXY,
    RealSettings,
    SettleSpec,
    real_replay_token,
    real_settings,
    validate_real,
)

__all__ = [
    "AimedFault",
    "AimedMailbox",
    "ChildProcess",
    "DEFAULT_SERVICES",
    "ObservedEffects",
    "ProbeSpec",
    "REAL_DB_ENV",
    "RUNNER_KINDS",
    "RealSettings",
    "SERVICE_FOLDER_ENV",
    "SERVICE_NAME_ENV",
    "STORE_PROXY",
    "ServiceProcess",
    "ServiceSpec",
    "SettleSpec",
    "WorkerPool",
    "is_aimed",
    "parse_services",
    "read_probe",
    "real_replay_token",
    "real_settings",
    "run_real",
    "start_services",
    "validate_real",
]

"""Load tests: Locust against chaosflow's HTTP API (or Python API), in processes of its own.

- :func:`load_profile` reads and validates a load profile (:class:`LoadProfile`): the workflow,
  the inputs, the shape (:data:`SHAPES`), users, duration, fault windows, thresholds.
- :class:`LocustRun` starts Locust headless on :data:`LOCUSTFILE` (one process, or a master and
  workers) and reads back what its users recorded (:class:`LoadRecord`).
- :func:`samples_frame`, :func:`per_second`, :func:`summarise` and :func:`recovery_times` turn
  that into pandas DataFrames and figures; :func:`load_section` into the result document.

Importing locust gevent-patches the whole process, so nothing here imports it; and nothing here
imports pandas, matplotlib or the orchestrator at import time either, because the locustfile
imports this package in every Locust process.
"""

from ._config import CONFIG_ENV, OUTCOMES, InputSource, locust_config, outcome_of
from ._errors import LoadTestError, ProfileError
from ._measures import (
    error_counts,
    latency_summary,
    per_second,
    samples_frame,
    series_rows,
    store_figures,
    summarise,
    users_frame,
    window_p99,
)
from ._plot import load_png
from ._profile import (
    LOAD_FAULT_KINDS,
    MAX_SECONDS,
    MAX_USERS,
    METRICS,
    STORE_PROXY,
    LoadProfile,
    Threshold,
)
from ._profile_load import load_profile
from ._recovery import recovery_times
from ._runner import LOCUSTFILE, LoadRecord, LocustPlan, LocustRun, read_record
from ._section import evaluate_thresholds, fault_action, load_section, observed_metrics
from ._shapes import SHAPES, ArrivalSchedule, peak_users, users_at

__all__ = [
    "ArrivalSchedule",
    "CONFIG_ENV",
    "InputSource",
    "LOAD_FAULT_KINDS",
    "LOCUSTFILE",
    "LoadProfile",
    "LoadRecord",
    "LoadTestError",
    "LocustPlan",
    "LocustRun",
    "MAX_SECONDS",
    "MAX_USERS",
    "METRICS",
    "OUTCOMES",
    "ProfileError",
    "SHAPES",
    "STORE_PROXY",
    "Threshold",
    "error_counts",
    "evaluate_thresholds",
    "fault_action",
    "latency_summary",
    "load_png",
    "load_profile",
    "load_section",
    "locust_config",
    "observed_metrics",
    "outcome_of",
    "peak_users",
    "per_second",
    "read_record",
    "recovery_times",
    "samples_frame",
    "series_rows",
    "store_figures",
    "summarise",
    "users_at",
    "users_frame",
    "window_p99",
]

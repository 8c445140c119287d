"""Load tests: Locust against chaosflow's HTTP API, always in a process of its own.

Importing locust gevent-patches the whole process, so nothing here imports it:
:func:`run_headless` starts ``python -m locust`` on :data:`LOCUSTFILE` (the ``OrderUser`` that
submits orders and follows them) and returns a :class:`LoadResult` read from its stats.
"""

from ._errors import LoadTestError
from ._runner import LOCUSTFILE, MAX_SECONDS, LoadProfile, LoadResult, run_headless

__all__ = [
    "LOCUSTFILE",
    "LoadProfile",
    "LoadResult",
    "LoadTestError",
    "MAX_SECONDS",
    "run_headless",
]

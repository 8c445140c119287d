"""What a Locust process needs of a profile, as plain JSON, and the pieces it runs with.

``chaosflow load`` validates the profile once, then hands every Locust process the same resolved
config (:func:`locust_config`): the local or master process reads it from the file named by
:data:`CONFIG_ENV`; Locust workers get it from the master over Locust's own messages, so a worker
on another host needs nothing but the locustfile. This module is imported inside Locust, so it
imports nothing heavy (no pandas, no orchestrator).
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Final

from ._profile_load import import_object

if TYPE_CHECKING:
    from ._profile import LoadProfile

CONFIG_ENV: Final = "CHAOSFLOW_LOAD_CONFIG"
CONFIG_VERSION: Final = 1
SAMPLES_FILE: Final = "load_samples.jsonl"
RUN_FILE: Final = "load_run.json"
STARTED_FILE: Final = "load_started.json"
# Run outcomes, each reported to Locust as a request event of type RUN_EVENT_TYPE under its name.
RUN_EVENT_TYPE: Final = "RUN"
OUTCOMES: Final = ("completed", "rolled_back", "failed", "unfinished")
# The orchestrator's terminal run states (and ``compensated``, ``rolled_back``'s name in stores
# before schema version 2), by the outcome they count as.
_OUTCOME_OF_STATE: Final = {
    "completed": "completed",
    "rolled_back": "rolled_back",
    "compensated": "rolled_back",
    "cancelled": "rolled_back",
    "compensation_failed": "failed",
}


def outcome_of(state: str) -> str | None:
    """The outcome a terminal run state counts as; ``None`` while the run goes on."""
    return _OUTCOME_OF_STATE.get(state)


def locust_config(
    profile: LoadProfile,
    *,
    workflow_name: str,
    host_url: str,
    out_dir: str,
    db_url: str | None = None,
) -> dict[str, Any]:
    """The resolved config every Locust process of this load run works from."""
    inputs: dict[str, Any]
    if isinstance(profile.inputs, list):
        inputs = {"list": profile.inputs}
    else:
        inputs = {"generator": profile.inputs.generator}
    return {
        "version": CONFIG_VERSION,
        "name": profile.name,
        "workflow": workflow_name,
        "workflow_spec": profile.workflow,
        "user": profile.user,
        "inputs": inputs,
        "shape": profile.shape.model_dump(),
        "users": profile.users,
        "arrival_rate": profile.arrival_rate,
        "duration_s": profile.duration_s,
        "spawn_rate": profile.spawn_rate or float(profile.users),
        "think_time_s": list(profile.think_time_s),
        "follow": profile.follow.model_dump(),
        "request_timeout_s": profile.request_timeout_s,
        # Each Locust process submits its share, so the whole run stays within max_runs.
        "max_runs_per_process": -(-profile.max_runs // profile.distributed.processes),
        "processes": profile.distributed.processes,
        "token": profile.api.token,
        "host_url": host_url,
        "db_url": db_url,
        "out_dir": out_dir,
        "seed": profile.seed,
    }


class InputSource:
    """The inputs of one user: drawn from the profile's list, or made by its generator."""

    def __init__(self, inputs: Mapping[str, Any], rng: random.Random) -> None:
        self.rng = rng
        self._list: list[dict[str, Any]] | None = inputs.get("list")
        self._generator = None if self._list is not None else import_object(inputs["generator"])
        self.index = 0

    def next(self) -> dict[str, Any]:
        """The next run's input."""
        self.index += 1
        if self._list is not None:
            return dict(self.rng.choice(self._list))
        made = self._generator(self.rng, self.index) if self._generator else {}
        return dict(made)

"""Exploration profiles: how hard a run searches, by name, for a laptop, CI and a nightly job.

A profile is two things that go together: the Hypothesis settings profile of the same name (for
property tests and the search's generation stage) and a scale on a scenario file's budget (for
``chaosflow run``). ``default`` and ``ci`` keep the file's budget; ``ci`` also derandomizes
Hypothesis, keeps no example database (nothing written on a CI machine) and prints the blob to
reproduce a failure; ``nightly`` multiplies the budget by ten and runs 500 examples per
property.

The search is always derandomized and seeded (a seed fixes what it tries), whatever the profile:
a profile changes how much is tried, never which verdict a given case gets.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis.errors import InvalidArgument

from .._errors import ScenarioDefinitionError


@dataclass(frozen=True)
class ExplorationProfile:
    """A named profile: the Hypothesis settings it registers and its scale on a file's budget."""

    name: str
    budget_scale: int
    hypothesis: Mapping[str, Any] = field(default_factory=dict)


PROFILES: Mapping[str, ExplorationProfile] = {
    # Hypothesis's own default profile, as it is (or as the project registered it).
    "default": ExplorationProfile("default", 1),
    "ci": ExplorationProfile(
        "ci",
        1,
        {
            "max_examples": 50,
            "derandomize": True,
            "deadline": None,
            "database": None,
            "print_blob": True,
            "suppress_health_check": [HealthCheck.too_slow],
        },
    ),
    "nightly": ExplorationProfile("nightly", 10, {"max_examples": 500, "deadline": None}),
}


def exploration_profile(name: str) -> ExplorationProfile:
    """The profile called ``name``, or a clear error naming the known ones."""
    try:
        return PROFILES[name]
    except KeyError:
        raise ScenarioDefinitionError(
            f"profile={name!r} is not an exploration profile; use one of {', '.join(PROFILES)}."
        ) from None


def register_profiles() -> None:
    """Register ``default``, ``ci`` and ``nightly`` as Hypothesis settings profiles.

    A profile of one of these names that is already registered (by a project's own conftest,
    or Hypothesis's own ``default``) is kept: the project's choice wins over the library's.
    """
    for profile in PROFILES.values():
        try:
            settings.get_profile(profile.name)
        except InvalidArgument:
            settings.register_profile(profile.name, **profile.hypothesis)

"""Exceptions raised by the load-test package.

Every exception loadtests raises on purpose derives from one root::

    LoadTestError              Locust could not run, crashed, timed out or left no results
     +-- ProfileError          a load profile is wrong: names the field, the value, the fix

A :class:`ProfileError` is raised when the profile is loaded, before anything starts, so a bad
profile never costs a load run.
"""

from __future__ import annotations


class LoadTestError(Exception):
    """A load run did not produce a result: Locust failed to start, crashed, or ran out of time."""


class ProfileError(LoadTestError):
    """A load profile (YAML) is not valid: the message names the field, its value and the fix."""

"""Exceptions raised by the load-test runner.

Every exception loadtests raises on purpose derives from one root::

    LoadTestError              Locust could not run, crashed, timed out or left no stats

Bad settings (a :class:`~loadtests.LoadProfile` out of bounds) raise ``ValueError`` when they
are made, before anything runs.
"""

from __future__ import annotations


class LoadTestError(Exception):
    """A Locust run did not produce a result: it failed to start, crashed, or ran out of time."""

"""Fixtures for the reports tests; the builders themselves are in ``_builders``."""

from __future__ import annotations

import pytest

from reports import ResilienceResult
from tests.reports._builders import (
    anomaly,
    event,
    fault,
    invariant,
    load_section,
    make_load_result,
    make_result,
    run,
    steps,
    the_four_results,
)


class Factory:
    """The builders above, handed to tests as the ``make`` fixture."""

    event = staticmethod(event)
    anomaly = staticmethod(anomaly)
    invariant = staticmethod(invariant)
    run = staticmethod(run)
    fault = staticmethod(fault)
    steps = staticmethod(steps)
    result = staticmethod(make_result)
    load_section = staticmethod(load_section)
    load_result = staticmethod(make_load_result)


@pytest.fixture
def make() -> Factory:
    """Builders for events, anomalies, invariants, runs, faults and whole results."""
    return Factory()


@pytest.fixture
def sample() -> ResilienceResult:
    """Two invalid invariants (replay tokens tok-dup, tok-miss), one valid; 3 runs; 3 faults."""
    return make_result()


@pytest.fixture
def load_sample() -> ResilienceResult:
    """A valid load run: 30 s of series, a fault window 10..20 s, recovered in 2 s."""
    return make_load_result()


@pytest.fixture(params=["valid", "invalid", "unknown", "load"])
def each_result(request: pytest.FixtureRequest) -> ResilienceResult:
    """A valid, an invalid, an unknown and a load result, one per test."""
    return the_four_results()[request.param]

"""The ``load`` section of a result: a load run's profile, summary, time series and recovery.

Its shape is the one agreed with the load tests (``LOAD_SECTION.md`` of issues 13 and 14): times
are seconds since the load run started, latencies milliseconds, and a figure that could not be
measured is ``null``, never 0.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictFloat

from ._model import Count, Record

LoadShape = Literal["steady", "ramp", "step", "spike", "soak", "arrival_rate"]
Figure = Annotated[StrictFloat | None, Field(description="null when it could not be measured")]


class Distributed(Record):
    """How the load was spread: Locust workers beside the master (0 = one local process)."""

    workers: Count = Field(0, description="Locust worker processes (0 for a local run)")


class LoadProfile(Record):
    """What load was asked for."""

    name: str = Field(description="the profile's name")
    workflow: str = Field(description="the workflow under load, as module:attr")
    shape: LoadShape = Field(description="steady, ramp, step, spike, soak or arrival_rate")
    users: Count | None = Field(None, description="peak users of a closed model")
    arrival_rate: Annotated[StrictFloat, Field(ge=0)] | None = Field(
        None, description="iterations per second of an open model"
    )
    duration_s: Annotated[StrictFloat, Field(ge=0)] = Field(description="how long, seconds")
    distributed: Distributed = Field(
        default_factory=Distributed, description="how the load was spread over processes"
    )


class Percentiles(Record):
    """Latency percentiles in milliseconds."""

    p50: Figure = None
    p95: Figure = None
    p99: Figure = None
    max: Figure = None


class LoadSummary(Record):
    """The load run's headline figures."""

    submitted: Count = Field(description="runs submitted")
    completed: Count = Field(description="runs that completed")
    rolled_back: Count = Field(description="runs rolled back cleanly")
    failed: Count = Field(description="runs that ended otherwise (a rollback that failed)")
    unfinished: Count = Field(description="runs not ended when the load stopped")
    completion_rate: Figure = Field(None, description="completed / submitted")
    throughput_submitted_per_s: Figure = None
    throughput_completed_per_s: Figure = None
    submit_latency_ms: Percentiles = Field(
        default_factory=Percentiles, description="from intended submit to its acknowledgement"
    )
    e2e_latency_ms: Percentiles = Field(
        default_factory=Percentiles, description="from intended submit to the run's end"
    )
    errors: dict[str, Count] = Field(default_factory=dict, description="errors by kind")
    retry_amplification: Figure = Field(None, description="step attempts / steps")
    compensation_rate: Figure = Field(None, description="runs compensated / runs")
    dropped_iterations: Count = Field(0, description="open-model iterations with no free user")


class LoadSample(Record):
    """One second of the load run (per-interval figures, not cumulative ones)."""

    t: StrictFloat = Field(description="seconds since the load run started")
    users: Count = Field(description="users running in that second")
    submitted: Count = Field(description="runs submitted in that second")
    completed: Count = Field(description="runs that completed in that second")
    errors: Count = Field(description="submissions or runs that failed in that second")
    submit_p50_ms: Figure = None
    submit_p99_ms: Figure = None
    e2e_p50_ms: Figure = None
    e2e_p95_ms: Figure = None
    e2e_p99_ms: Figure = None


class FaultWindow(Record):
    """A fault held during the load; the same fault is on the result's fault timeline."""

    index: Count = Field(description="its position in the load's fault schedule")
    kind: str = Field(description="network, partition, process, store, ...")
    target: str = Field(description="the proxy, worker slot or service it struck")
    action: str = Field(description="what it did: latency, down, kill, ...")
    start_s: StrictFloat = Field(description="when it struck, seconds since the load started")
    end_s: StrictFloat | None = Field(None, description="null if it was never healed")
    params: dict[str, Any] = Field(default_factory=dict, description="its parameters")


class Recovery(Record):
    """Whether and how fast throughput and p99 came back to their band after a fault healed."""

    fault_index: Count = Field(description="the fault window it follows")
    healed_at_s: StrictFloat | None = Field(None, description="when the fault healed")
    recovered: StrictBool | None = Field(
        description="whether throughput and p99 came back in band; null when there was no "
        "steady state before the fault to come back to"
    )
    recovered_at_s: StrictFloat | None = Field(None, description="when they came back")
    time_to_recover_s: Annotated[StrictFloat, Field(ge=0)] | None = Field(
        None, description="null when it did not recover"
    )
    band: dict[str, StrictFloat] = Field(
        default_factory=dict, description="the tolerated relative distance from the baseline"
    )


class Threshold(Record):
    """A pass/fail criterion on a load metric (as k6 has); a broken one makes the result invalid."""

    metric: str = Field(description="the figure, e.g. e2e_p99_ms")
    op: Literal["<", "<=", ">", ">=", "=="] = Field(description="how observed compares to value")
    value: StrictFloat = Field(description="the limit")
    observed: StrictFloat | None = Field(None, description="null when it was not measured")
    passed: StrictBool | None = Field(description="null when it could not be decided")


class LoadSection(Record):
    """Everything a load run measured; present only in results of a load run."""

    profile: LoadProfile = Field(description="what load was asked for")
    summary: LoadSummary = Field(description="the headline figures")
    series: tuple[LoadSample, ...] = Field((), description="one row per second")
    fault_windows: tuple[FaultWindow, ...] = Field((), description="the faults held during it")
    recovery: tuple[Recovery, ...] = Field((), description="one per fault window")
    thresholds: tuple[Threshold, ...] = Field((), description="pass/fail criteria")
    artifacts: dict[str, str] = Field(
        default_factory=dict, description="Locust's own files, beside the result"
    )


def threshold_verdict(thresholds: tuple[Threshold, ...]) -> str:
    """``invalid`` if a threshold broke, ``unknown`` if one could not be decided, else ``valid``.

    Merged with the invariants' verdicts into the result's verdict (worst first).
    """
    if any(t.passed is False for t in thresholds):
        return "invalid"
    if any(t.passed is None for t in thresholds):
        return "unknown"
    return "valid"

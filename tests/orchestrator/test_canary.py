"""Canary versions: declared on the new version, checked when defined, the share decided from the
run id alone, the stop shared through the store. Both stores.

The scenario under faults is in ``tests/scenarios/test_sim_patterns.py`` and the real-worker
one in ``tests/integration/test_canary_real.py``.
"""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator import (
    BusinessError,
    Canary,
    DefinitionError,
    RetryPolicy,
    RunState,
    Step,
    StepContext,
    Workflow,
    canary_bucket,
    judge_window,
    takes_canary,
)
from tests.orchestrator.conftest import OrchestratorFactory

ONCE = RetryPolicy(max_attempts=1)


class CardRefused(BusinessError):
    """The buggy new version refuses every card: a definite failure, nothing was charged."""


def charge_ok(ctx: StepContext) -> str:
    return "charged"


def charge_buggy(ctx: StepContext) -> str:
    raise CardRefused("v2 reads the card number backwards")


def versions(*, share: float = 0.5, window: int = 4, rate: float = 0.25) -> tuple[Workflow, ...]:
    v1 = Workflow("orders", [Step("charge", charge_ok, retry=ONCE)])
    v2 = Workflow(
        "orders",
        [Step("charge", charge_buggy, retry=ONCE)],
        version=2,
        canary=Canary(stable=v1, share=share, max_failure_rate=rate, window=window),
    )
    return v1, v2


# -- the declaration -------------------------------------------------------------------------


def test_a_canary_is_plain_data_and_loads_back() -> None:
    v1, v2 = versions()
    assert v2.canary is not None
    data = v2.canary.to_dict()
    assert data == {"stable": 1, "share": 0.5, "max_failure_rate": 0.25, "window": 4}
    assert Canary.from_dict(data, v1) == v2.canary
    with pytest.raises(DefinitionError, match=r"stable=3 names another version"):
        Canary.from_dict({**data, "stable": 3}, v1)


def test_the_canary_is_not_part_of_the_fingerprint_so_promoting_keeps_the_definition() -> None:
    _v1, v2 = versions()
    promoted = Workflow("orders", [Step("charge", charge_buggy, retry=ONCE)], version=2)
    assert promoted.fingerprint() == v2.fingerprint()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"share": 0}, r"share=0 must be a number above 0 and at most 1"),
        ({"share": 1.5}, r"share=1.5 must be"),
        ({"share": True}, r"share=True must be"),
        ({"share": 0.1, "max_failure_rate": 1}, r"max_failure_rate=1 must be a number from 0"),
        ({"share": 0.1, "window": 0}, r"window=0 must be a whole number from 1 to 1000"),
        ({"share": 0.1, "window": 2.5}, r"window=2.5 must be"),
    ],
)
def test_a_bad_canary_is_refused_when_defined(kwargs: dict[str, Any], message: str) -> None:
    v1 = Workflow("orders", [Step("charge", charge_ok)])
    with pytest.raises(DefinitionError, match=message):
        Canary(stable=v1, **kwargs)


def test_a_canary_must_be_a_newer_version_of_the_same_workflow() -> None:
    v1 = Workflow("orders", [Step("charge", charge_ok)])
    other = Workflow("refunds", [Step("charge", charge_ok)])
    with pytest.raises(DefinitionError, match=r"stable=.* is not a Workflow"):
        Canary(stable="orders", share=0.1)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match=r"'orders' v1: the canary's stable version is"):
        Workflow("orders", [Step("charge", charge_ok)], canary=Canary(stable=v1, share=0.1))
    with pytest.raises(DefinitionError, match=r"stable version is 'refunds' v1"):
        Workflow("orders", [Step("c", charge_ok)], version=2, canary=Canary(other, 0.1))
    with pytest.raises(DefinitionError, match=r"canary='half' is not a Canary"):
        Workflow("orders", [Step("c", charge_ok)], version=2, canary="half")  # type: ignore[arg-type]
    _v1, v2 = versions()
    with pytest.raises(DefinitionError, match=r"v2 is a canary itself"):
        Workflow("orders", [Step("c", charge_ok)], version=3, canary=Canary(v2, 0.1))


# -- the pure decisions ----------------------------------------------------------------------


def test_the_share_is_respected_within_bounds_and_decided_by_the_run_id_alone() -> None:
    v1, v2 = versions(share=0.1)
    assert v2.canary is not None
    ids = [f"order-{n}" for n in range(4000)]
    taken = [takes_canary(v2.canary, run_id, stopped=False) for run_id in ids]
    # 400 expected; the binomial's standard deviation is 19, so 4.5 of them either side.
    assert 315 <= sum(taken) <= 485
    # The same id gets the same answer every time (in every process: it is a hash).
    assert taken == [takes_canary(v2.canary, run_id, stopped=False) for run_id in ids]
    assert canary_bucket("order-1") == canary_bucket("order-1")
    assert all(0 <= canary_bucket(run_id) < 1 for run_id in ids[:100])
    # A stopped canary takes none.
    assert not any(takes_canary(v2.canary, run_id, stopped=True) for run_id in ids)
    # A share of one takes every run.
    everything = Canary(stable=v1, share=1.0)
    assert all(takes_canary(everything, run_id, stopped=False) for run_id in ids[:200])


def test_the_window_judgement_counts_failures_against_the_bound() -> None:
    v1 = Workflow("orders", [Step("charge", charge_ok)])
    canary = Canary(stable=v1, share=0.5, max_failure_rate=0.2, window=10)
    two = ["rolled_back", "compensation_failed"] + ["completed"] * 8
    assert judge_window(canary, two).stop is False  # 2 of 10 is the bound, not above it
    three = ["rolled_back"] * 3
    verdict = judge_window(canary, three)
    # Three failures break the bound over any window of ten they are in: no need to wait.
    assert (verdict.finished, verdict.failures, verdict.stop) == (3, 3, True)
    # A cancel is a person's choice: not counted. Only the last ``window`` finished count.
    assert judge_window(canary, ["cancelled"] * 5 + two).failures == 2
    old_failures = ["completed"] * 10 + ["rolled_back"] * 5
    assert judge_window(canary, old_failures) == judge_window(canary, ["completed"] * 10)


# -- in the store ----------------------------------------------------------------------------


def submitted_version(orch: Any, run_id: str) -> int:
    return orch.status(run_id).version


def test_a_failing_canary_is_stopped_and_every_submitter_then_sends_new_runs_to_stable(
    make_orchestrator: OrchestratorFactory,
) -> None:
    _v1, v2 = versions(share=0.5, window=4, rate=0.25)
    orch = make_orchestrator()
    orch.register(v2)  # the stable version comes with it
    first = [orch.submit("orders", {"n": n}, run_id=f"a-{n}") for n in range(20)]
    on_canary = [r for r in first if submitted_version(orch, r) == 2]
    on_stable = [r for r in first if submitted_version(orch, r) == 1]
    assert on_canary and on_stable  # both versions took a share of the first batch
    assert on_canary == [r for r in first if canary_bucket(r) < 0.5]
    orch.run_until_quiet(max_seconds=60)
    # Running runs finish on their own version: every canary run ran v2's step and failed.
    assert {orch.status(r).state for r in on_canary} == {RunState.ROLLED_BACK}
    assert {orch.status(r).state for r in on_stable} == {RunState.COMPLETED}
    stopped = [e for e in orch.events() if e.kind == "canary_stopped"]
    assert len(stopped) == 1  # written once, however many canary runs failed after it
    assert stopped[0].run_id in on_canary
    assert stopped[0].detail["failures"] == 2 and stopped[0].detail["version"] == 2
    # Another submitter over the same store (another process, in production) agrees.
    other = make_orchestrator()
    other.register(v2)
    later = [other.submit("orders", {"n": n}, run_id=f"b-{n}") for n in range(20)]
    assert any(canary_bucket(r) < 0.5 for r in later)  # some would have gone to the canary
    assert {submitted_version(other, r) for r in later} == {1}
    submitted = [e for e in other.events() if e.kind == "run_submitted" and e.run_id in later]
    assert {e.detail["canary"]["taken"] for e in submitted} == {False}
    # A resubmit of a canary run's id returns it as it was, on v2.
    assert orch.submit("orders", {"n": 0}, run_id=on_canary[0]) == on_canary[0]
    assert submitted_version(orch, on_canary[0]) == 2


def test_a_healthy_canary_keeps_its_share(make_orchestrator: OrchestratorFactory) -> None:
    v1 = Workflow("orders", [Step("charge", charge_ok)])
    v2 = Workflow(
        "orders",
        [Step("charge", charge_ok)],
        version=2,
        canary=Canary(stable=v1, share=0.3, max_failure_rate=0.1, window=5),
    )
    orch = make_orchestrator()
    orch.register(v2)
    run_ids = [orch.submit(v2, {"n": n}, run_id=f"h-{n}") for n in range(30)]
    orch.run_until_quiet(max_seconds=60)
    assert not [e for e in orch.events() if e.kind == "canary_stopped"]
    expected = {r: 2 if canary_bucket(r) < 0.3 else 1 for r in run_ids}
    assert {r: submitted_version(orch, r) for r in run_ids} == expected
    assert 2 in expected.values() and 1 in expected.values()
    # Submitting the stable version by its object sends every run to it.
    pinned = orch.submit(v1, {}, run_id="pinned")
    assert submitted_version(orch, pinned) == 1

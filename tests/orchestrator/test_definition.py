"""Workflow definitions fail at definition time, naming the offender."""

from __future__ import annotations

import random

import pytest

from orchestrator import DefinitionError, RetryPolicy, Step, Workflow


def noop(ctx: object) -> None:
    return None


def test_valid_workflow_orders_steps_topologically() -> None:
    wf = Workflow(
        "w", [Step("c", noop, after=("b",)), Step("a", noop), Step("b", noop, after=("a",))]
    )
    assert wf.order == ("a", "b", "c")
    assert wf.roots() == ("a",)
    assert wf.dependents("a") == ("b",)
    assert wf.dependencies("c") == ("b",)


def test_unknown_dependency_is_named() -> None:
    with pytest.raises(
        DefinitionError, match=r"step 'charge' depends on 'reserve_stock', which is not defined"
    ):
        Workflow("order", [Step("charge", noop, after=("reserve_stock",))], version=2)


def test_cycle_is_printed() -> None:
    with pytest.raises(DefinitionError, match=r"has a cycle: (a -> b -> a|b -> a -> b)"):
        Workflow("w", [Step("a", noop, after=("b",)), Step("b", noop, after=("a",))])


def test_duplicate_step_names_rejected() -> None:
    with pytest.raises(DefinitionError, match=r"step 'a' is defined twice"):
        Workflow("w", [Step("a", noop), Step("a", noop)])


def test_empty_workflow_rejected() -> None:
    with pytest.raises(DefinitionError, match="has no steps"):
        Workflow("w", [])


def test_lone_string_dependency_is_one_name() -> None:
    step = Step("b", noop, after="a")  # type: ignore[arg-type]
    assert step.after == ("a",)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_attempts": 0}, r"max_attempts=0 must be at least 1"),
        ({"initial_interval": -1.0}, r"initial_interval=-1.0 must be >= 0"),
        ({"backoff_coefficient": 0.5}, r"backoff_coefficient=0.5 must be >= 1"),
        ({"initial_interval": 5.0, "max_interval": 1.0}, r"max_interval=1.0 must be >="),
    ],
)
def test_bad_retry_policy_rejected(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


def test_bad_step_fields_rejected() -> None:
    with pytest.raises(DefinitionError, match=r"timeout=0 must be a positive"):
        Step("a", noop, timeout=0)
    with pytest.raises(DefinitionError, match=r"action=42 is not callable"):
        Step("a", 42)  # type: ignore[arg-type]
    with pytest.raises(DefinitionError, match=r"name='bad name' is not a valid name"):
        Step("bad name", noop)


def test_backoff_is_capped_and_jitter_stays_under_the_cap() -> None:
    policy = RetryPolicy(
        initial_interval=1.0, backoff_coefficient=2.0, max_interval=5.0, jitter=False
    )
    assert [policy.delay(n, random.Random(0)) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittered = RetryPolicy(initial_interval=1.0, backoff_coefficient=2.0, max_interval=5.0)
    rng = random.Random(1)
    delays = [jittered.delay(4, rng) for _ in range(200)]
    assert all(0 <= d <= 5.0 for d in delays)
    assert len(set(delays)) > 100  # full jitter spreads the retries


def test_non_retryable_errors() -> None:
    policy = RetryPolicy(non_retryable=(KeyError,))
    assert not policy.retryable(KeyError("x"))
    assert policy.retryable(ValueError("x"))

"""Claims: a step a worker holds under a fenced lease, how one is taken, and how a worker keeps
a run across steps.

A claim is taken in one of two ways. From the queue (:func:`claim_from_queue`): the earliest
claimable step of the worker's workflows, read, leased and logged in a transaction of its own.
Or chained (:func:`chain_next`): the transaction that records a step's outcome also leases the
step that outcome made ready in the same run, under a fresh token, so a run that goes step after
step costs one durable commit per step and no re-read. What the next action needs (the run's
input, the results so far) comes from the claim in memory; the outputs of steps some other
worker completed meanwhile are read from the rows the record transaction read anyway.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._definition import Workflow
from ._engine import Plan
from ._priorities import rotation
from ._registry import WorkflowRegistry
from ._statements import CLAIMABLE, LEASED
from ._states import StepState, next_step_state
from ._store import StepRow, StoreTransaction

_LEASED_NAMES = frozenset(str(s) for s in LEASED)
_CLAIMABLE_STATES = frozenset(CLAIMABLE)


@dataclass(frozen=True)
class Claim:
    """A step this worker holds under a lease, with what its action needs to run."""

    run_id: str
    workflow: Workflow
    step: str
    purpose: str  # "action" or "compensation"
    attempt: int
    token: str
    reclaimed: bool
    input: Mapping[str, Any]
    results: Mapping[str, Any]
    correlation_id: str | None


def idempotency_key(run_id: str, step: str, purpose: str) -> str:
    """The key a service sees for one logical effect: the same on every attempt and recovery."""
    return f"{run_id}:{step}" if purpose == "action" else f"{run_id}:{step}:{purpose}"


def _log_claim(
    tx: StoreTransaction,
    run_id: str,
    step: str,
    purpose: str,
    attempt: int,
    worker_id: str,
    now: float,
    expires_at: float,
    reclaimed: bool,
) -> None:
    tx.append_event(
        run_id,
        "step_claimed" if purpose == "action" else "compensation_claimed",
        now,
        step=step,
        attempt=attempt,
        worker_id=worker_id,
        detail={"reclaimed": reclaimed, "lease_expires_at": expires_at},
    )


def claim_from_queue(
    tx: StoreTransaction,
    registry: WorkflowRegistry,
    worker_id: str,
    now: float,
    lease_seconds: float,
    last_served: str | None = None,
) -> Claim | None:
    """Lease a claimable step of the registered workflows (a ready one or an expired lease, a
    reclaim): from the first workflow after ``last_served`` that has one, its highest priority
    and earliest due first (the rule in ``_priorities``); None when there is none."""
    names = registry.names()
    if not names:
        return None
    for workflow_name in rotation(names, last_served):
        claim = _claim_of(tx, registry, [workflow_name], worker_id, now, lease_seconds)
        if claim is not None:
            return claim
    return None


def _claim_of(
    tx: StoreTransaction,
    registry: WorkflowRegistry,
    names: list[str],
    worker_id: str,
    now: float,
    lease_seconds: float,
) -> Claim | None:
    for run_id, step, state, token in tx.claim_candidates(now, 16, names):
        reclaimed = state in _LEASED_NAMES
        new_state = next_step_state(state, "reclaim" if reclaimed else "claim")
        expires_at = now + lease_seconds
        taken = tx.take_lease(
            run_id, step, state, token, str(new_state), worker_id, expires_at, now
        )
        if taken is None:
            continue
        run = tx.run(run_id)
        assert run is not None  # a step row never outlives its run
        workflow = registry.get(run.workflow, run.version)
        purpose = "compensation" if new_state == StepState.COMPENSATING else "action"
        results = {
            name: json.loads(row.output)
            for name, row in tx.steps(run_id).items()
            if row.output is not None
        }
        _log_claim(tx, run_id, step, purpose, taken[1], worker_id, now, expires_at, reclaimed)
        return Claim(
            run_id,
            workflow,
            step,
            purpose,
            taken[1],
            taken[0],
            reclaimed,
            json.loads(run.input),
            results,
            run.correlation_id,
        )
    return None


def chain_next(
    tx: StoreTransaction,
    claim: Claim,
    plan: Plan,
    rows: Mapping[str, StepRow],
    results: Mapping[str, Any],
    worker_id: str,
    now: float,
    lease_seconds: float,
) -> Claim | None:
    """Lease, in the transaction that wrote ``plan``, the first step it made claimable.

    Only a step the plan itself moved is taken, only when it is due (a compensation may wait for
    a retry's time), and only with the same fenced conditional write a claim from the queue uses:
    a step another worker leased meanwhile is left to it. Other steps the plan made ready stay
    in the queue for other workers, whose doorbell the commit still rings.
    ``rows`` are the run's steps as this transaction read them before the plan; ``results`` the
    outputs known in memory, completed with any the rows hold that memory lacks.
    """
    ready = [name for name, _event, state in plan.step_moves if state in _CLAIMABLE_STATES]
    if not ready:
        return None
    step = ready[0]
    old_state = plan_state(plan, step)
    new_state = next_step_state(old_state, "claim")
    expires_at = now + lease_seconds
    taken = tx.take_lease(
        claim.run_id,
        step,
        str(old_state),
        None,
        str(new_state),
        worker_id,
        expires_at,
        now,
        due=True,
    )
    if taken is None:
        return None
    purpose = "compensation" if new_state == StepState.COMPENSATING else "action"
    known = dict(results)
    for name, row in rows.items():
        if name not in known and row.output is not None:
            known[name] = json.loads(row.output)
    _log_claim(tx, claim.run_id, step, purpose, taken[1], worker_id, now, expires_at, False)
    if len(ready) == 1 and not plan.run_events:
        # The one step this commit made claimable is ours: waking idle workers would only have
        # them queue for the store to find nothing.
        tx.wakes = False
    return Claim(
        claim.run_id,
        claim.workflow,
        step,
        purpose,
        taken[1],
        taken[0],
        False,
        claim.input,
        known,
        claim.correlation_id,
    )


def plan_state(plan: Plan, step: str) -> StepState:
    """The last state ``plan`` moves ``step`` to."""
    return [state for name, _event, state in plan.step_moves if name == step][-1]

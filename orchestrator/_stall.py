"""Stall policies: a deadline on a run (or on the child run of a sub-workflow step) and what to do
when it passes.

A :class:`Stall` is data on a workflow (a deadline for each of its runs) or on a sub-workflow
step (a deadline for the child run it starts, taking precedence over the child workflow's own).
The deadline and policy are written on the run's row when it is created (``cf_runs.deadline``,
``stall_policy``), so every worker agrees on them whatever version of the code it runs; a worker
with nothing to claim sweeps for running runs past their deadline, at most once a second, and
applies the policy in one transaction, marking the run (``stalled_at``) so it fires once:

- ``escalate``: log ``stall_detected`` and ``escalation``; the run goes on (a person decides).
- ``cancel``: log ``stall_detected`` and cancel the run: what did not start is skipped, what ran
  is compensated. For a child run, the parent step does not wait for that rollback (a hung
  step may never let it end): it fails at once as timed out, so the parent takes the step's
  fallback if one is declared for ``timeout``, and rolls back otherwise; the child's own
  rollback goes on by itself.
- ``fallback``: ``cancel``, on a sub-workflow step that must declare a fallback for
  ``timeout`` (checked when the step is defined): the stall always re-routes the parent, never
  rolls it back.
- ``retry``: log ``stall_detected`` and ``stall_retried``, abandon every action of the run in
  flight (its lease is revoked: a fresh token fences the hung attempt's late write and stops its
  heartbeat, and the next claim takes the step again with the same idempotency key), make every
  step waiting for a retry's time due at once, and give the run a new deadline ``after``
  seconds on; up to ``retries`` times, then ``cancel``. The count and the deadline's length
  live in the run's row (``stall_policy`` is ``retry:N``) and its ``stall_retried`` events.

The decisions (:func:`due_stalls` is the query, :func:`stall_plan` the parent's plan) are pure
apart from the transaction they run in.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ._errors import DefinitionError, SubworkflowFailed
from ._schema import events, runs, steps
from ._statements import CLAIMABLE, LEASED

if TYPE_CHECKING:
    from ._registry import WorkflowRegistry
    from ._store import StoreTransaction

STALL_POLICIES = ("cancel", "escalate", "fallback", "retry")
# The most retries a ``retry`` policy may declare: past a few, a stall is not transient.
MAX_STALL_RETRIES = 100
_LEASED = [str(s) for s in LEASED]
_CLAIMABLE = [str(s) for s in CLAIMABLE]
# How often an idle worker looks for runs past their deadline (seconds of its clock).
SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class Stall:
    """A run that has not ended ``after`` seconds from its start has stalled: apply ``policy``."""

    after: float
    policy: str = "cancel"
    retries: int = 1  # for ``retry``: how many times, before the stalled run is cancelled

    def __post_init__(self) -> None:
        number = isinstance(self.after, int | float) and not isinstance(self.after, bool)
        if not number or not 0 < self.after < float("inf"):
            raise DefinitionError(
                f"Stall after={self.after!r} must be a positive number of seconds from the run's "
                "start, e.g. Stall(after=600, policy='cancel')."
            )
        if self.policy not in STALL_POLICIES:
            raise DefinitionError(
                f"Stall policy={self.policy!r} is not known; use one of "
                f"{', '.join(STALL_POLICIES)} ('fallback' on a sub-workflow step whose Fallback "
                "covers 'timeout')."
            )
        whole = isinstance(self.retries, int) and not isinstance(self.retries, bool)
        if not whole or not 1 <= self.retries <= MAX_STALL_RETRIES:
            raise DefinitionError(
                f"Stall retries={self.retries!r} must be a whole number from 1 to "
                f"{MAX_STALL_RETRIES}: how many times policy 'retry' tries the stalled run "
                "again before cancelling it."
            )

    def to_dict(self) -> dict[str, Any]:
        """The stall policy as plain data."""
        data: dict[str, Any] = {"after": self.after, "policy": self.policy}
        if self.policy == "retry":
            data["retries"] = self.retries
        return data

    @property
    def column(self) -> str:
        """The policy as the run's row holds it: ``retry:N`` carries its count."""
        return f"retry:{self.retries}" if self.policy == "retry" else self.policy

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stall:
        """The stall policy written as plain data (the inverse of :meth:`to_dict`)."""
        if not isinstance(data, Mapping) or "after" not in data:
            raise DefinitionError(
                f"A stall policy must be a mapping like {{'after': 600, 'policy': 'cancel'}}, "
                f"not {data!r}."
            )
        return cls(data["after"], str(data.get("policy", "cancel")), data.get("retries", 1))


def run_deadline(stall: Stall | None, created_at: float) -> dict[str, Any]:
    """The columns a new run gets for ``stall`` (none when there is no stall policy)."""
    if stall is None:
        return {}
    return {"deadline": created_at + stall.after, "stall_policy": stall.column}


def retry_budget(stall_policy: str | None) -> int | None:
    """How many retries a run's ``stall_policy`` column allows; None when it is not ``retry``."""
    name, _, count = (stall_policy or "").partition(":")
    return int(count or 1) if name == "retry" else None


def due_stalls(tx: StoreTransaction, now: float, workflows: list[str]) -> list[str]:
    """Running runs of ``workflows`` past their deadline whose policy has not fired yet."""
    query = (
        select(runs.c.run_id)
        .where(runs.c.workflow.in_(workflows))
        .where(runs.c.state == "running")
        .where(runs.c.deadline.is_not(None) & (runs.c.deadline < now))
        .where(runs.c.stalled_at.is_(None))
        .order_by(runs.c.deadline)
        .limit(16)
    )
    return [row.run_id for row in tx.conn.execute(query).all()]


def apply_stall(
    tx: StoreTransaction, registry: WorkflowRegistry, run_id: str, now: float, actor: str
) -> bool:
    """Apply a stalled run's policy inside ``tx``; False when it no longer applies."""
    from ._runs import cancel_run, stall_parent_step  # _runs builds on the definitions

    tx.lock_run(run_id)
    run = tx.run(run_id)
    if (
        run is None
        or run.state != "running"
        or run.stalled_at is not None
        or run.deadline is None
        or run.deadline >= now
    ):
        return False  # another worker got there first, or the run moved on
    policy = run.stall_policy or "cancel"
    retries = retry_budget(policy)
    detail = {
        "deadline": run.deadline,
        "policy": "retry" if retries is not None else policy,
        "late": now - run.deadline,
    }
    tx.append_event(run_id, "stall_detected", now, worker_id=actor, detail=detail)
    if retries is not None:
        tried = _stall_retries(tx, run_id)
        if len(tried) < retries:
            # The first deadline's length is the policy's ``after``; later ones repeat it.
            after = tried[0]["after"] if tried else run.deadline - run.created_at
            _retry(tx, run_id, now, actor, after, len(tried) + 1, retries)
            return True
    tx.conn.execute(runs.update().where(runs.c.run_id == run_id).values(stalled_at=now))
    if run.stall_policy == "escalate":
        tx.append_event(run_id, "escalation", now, worker_id=actor, detail=detail)
        return True
    if run.parent_run_id is not None and run.parent_step is not None:
        # The parent first: settled as timed out now, it does not wait for the child's end
        # (which a hung step may never allow), and the child's cancel below cannot settle it
        # as a plain cancelled child.
        error = SubworkflowFailed(
            f"child run {run_id!r} stalled: not ended {now - run.created_at:.1f}s after its start "
            f"(deadline {run.deadline}); cancelled"
        )
        stall_parent_step(tx, registry, run.parent_run_id, run.parent_step, error, now, actor)
    child = tx.run(run_id)
    if child is not None and child.state == "running":  # the parent's rollback may have begun it
        cancel_run(
            tx,
            registry,
            run_id,
            now,
            actor,
            reason=f"stalled: not ended by its deadline {run.deadline}",
        )
    return True


def _stall_retries(tx: StoreTransaction, run_id: str) -> list[dict[str, Any]]:
    query = (
        select(events.c.detail)
        .where((events.c.run_id == run_id) & (events.c.kind == "stall_retried"))
        .order_by(events.c.seq)
    )
    return [json.loads(row.detail) for row in tx.conn.execute(query).all()]


def _retry(
    tx: StoreTransaction, run_id: str, now: float, actor: str, after: float, n: int, of: int
) -> None:
    """Abandon the run's actions in flight, make its waiting steps due, and renew its deadline."""
    of_run = steps.c.run_id == run_id
    in_flight = select(steps.c.step).where(of_run & steps.c.state.in_(_LEASED))
    abandoned = sorted(row.step for row in tx.conn.execute(in_flight).all())
    if abandoned:
        # A fresh token: the hung attempt's heartbeat and late write are fenced off; an expired
        # lease: the next claim takes the step again (a reclaim, with the same idempotency key).
        tx.conn.execute(
            steps.update()
            .where(of_run & steps.c.state.in_(_LEASED))
            .values(lease_token=str(uuid.uuid4()), lease_expires_at=now, updated_at=now)
        )
    waiting = of_run & steps.c.state.in_(_CLAIMABLE) & (steps.c.not_before > now)
    hastened = tx.conn.execute(
        steps.update().where(waiting).values(not_before=now, updated_at=now)
    ).rowcount
    deadline = now + after
    tx.conn.execute(runs.update().where(runs.c.run_id == run_id).values(deadline=deadline))
    detail = {
        "retry": n,
        "of": of,
        "after": after,
        "abandoned": abandoned,
        "hastened": int(hastened),
        "deadline": deadline,
    }
    tx.append_event(run_id, "stall_retried", now, worker_id=actor, detail=detail)
    tx.wakes = True  # the steps are claimable now: idle workers in this process may take them


def declares_stalls(registry: WorkflowRegistry) -> bool:
    """Whether any registered workflow, or any of its sub-workflow steps, has a stall policy."""
    return any(
        w.stall is not None or any(s.stall is not None for s in w.steps.values())
        for w in registry.workflows()
    )

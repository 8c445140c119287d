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

The decisions (:func:`due_stalls` is the query, :func:`stall_plan` the parent's plan) are pure
apart from the transaction they run in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ._errors import DefinitionError, SubworkflowFailed
from ._schema import runs

if TYPE_CHECKING:
    from ._registry import WorkflowRegistry
    from ._store import StoreTransaction

STALL_POLICIES = ("cancel", "escalate", "fallback")
# How often an idle worker looks for runs past their deadline (seconds of its clock).
SWEEP_SECONDS = 1.0


@dataclass(frozen=True)
class Stall:
    """A run that has not ended ``after`` seconds from its start has stalled: apply ``policy``."""

    after: float
    policy: str = "cancel"

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
                "covers 'timeout'; a retry of a stalled child is not supported)."
            )

    def to_dict(self) -> dict[str, Any]:
        """The stall policy as plain data."""
        return {"after": self.after, "policy": self.policy}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stall:
        """The stall policy written as plain data (the inverse of :meth:`to_dict`)."""
        if not isinstance(data, Mapping) or "after" not in data:
            raise DefinitionError(
                f"A stall policy must be a mapping like {{'after': 600, 'policy': 'cancel'}}, "
                f"not {data!r}."
            )
        return cls(data["after"], str(data.get("policy", "cancel")))


def run_deadline(stall: Stall | None, created_at: float) -> dict[str, Any]:
    """The columns a new run gets for ``stall`` (none when there is no stall policy)."""
    if stall is None:
        return {}
    return {"deadline": created_at + stall.after, "stall_policy": stall.policy}


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
    tx.conn.execute(runs.update().where(runs.c.run_id == run_id).values(stalled_at=now))
    detail = {"deadline": run.deadline, "policy": run.stall_policy, "late": now - run.deadline}
    tx.append_event(run_id, "stall_detected", now, worker_id=actor, detail=detail)
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


def declares_stalls(registry: WorkflowRegistry) -> bool:
    """Whether any registered workflow, or any of its sub-workflow steps, has a stall policy."""
    return any(
        w.stall is not None or any(s.stall is not None for s in w.steps.values())
        for w in registry.workflows()
    )

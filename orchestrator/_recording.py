"""Recording a step's outcome: one fenced transaction that ends the lease, logs the event,
applies the saga's plan and, while the worker keeps the run, leases the step that follows.

:class:`Recorder` is the half of the worker that writes; the worker's loop (claiming, running
actions, heartbeats) is in ``_worker``.
"""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Mapping
from typing import Any

from ._breaker import record
from ._claims import Claim, chain_next, claim_from_queue
from ._clock import Clock
from ._definition import RetryPolicy, Step
from ._engine import (
    Plan,
    after_compensation_settled,
    after_step_completed,
    after_step_failed,
    after_step_replaced,
)
from ._errors import BusinessError, ContractViolation, SerializationError
from ._failures import (
    StepError,
    decode_error,
    encode_error,
    failure_is_definite,
    failure_record,
    refused,
    step_error,
)
from ._fallbacks import fallback_cause, takes_fallback
from ._hooks import HookPoint, trace_id_for
from ._registry import WorkflowRegistry
from ._retry import db_retry
from ._rows import StepRow
from ._runs import write_plan
from ._states import RunState, StepState, next_step_state
from ._store import Store, StoreTransaction

FAILURE_LOGGER = "chaosflow.failures"
failure_log = logging.getLogger(FAILURE_LOGGER)


class Recorder:
    """The worker's durable writes; mixed into :class:`~orchestrator.Worker`."""

    store: Store
    registry: WorkflowRegistry
    worker_id: str
    clock: Clock
    lease_seconds: float
    _rng: random.Random
    # While the worker's loop runs, a record transaction also leases the step its outcome made
    # ready in the same run (``_chained``, run next without a claim of its own).
    _keep_runs: bool = False
    _chained: Claim | None = None
    # The workflow claimed from the queue last: the next claim starts after it (_priorities).
    _last_served: str | None = None

    def _fire(self, point: HookPoint, claim: Claim) -> None:
        raise NotImplementedError  # the worker's

    def _breaker_outcome(
        self, tx: StoreTransaction, claim: Claim, now: float, *, success: bool
    ) -> None:
        breaker = claim.workflow.steps[claim.step].breaker
        if breaker is None or claim.purpose != "action":
            return
        moved = record(tx, breaker, now, success=success)
        if moved:
            self._log(tx, claim, moved, now, {"resource": breaker.resource})

    @db_retry()
    def _record_success(self, claim: Claim, encoded: str | None) -> bool:
        self._chained = None  # a retried attempt starts again
        now = self.clock.now()
        compensating = claim.purpose == "compensation"
        current = StepState.COMPENSATING if compensating else StepState.RUNNING
        new_state = next_step_state(current, "succeed")
        with self.store.transaction() as tx:
            tx.lock_run(claim.run_id)
            # The last error describes why a step is where it is: a success clears it.
            values: dict[str, Any] = (
                {"compensation_error": None} if compensating else {"output": encoded, "error": None}
            )
            event = "step_compensated" if compensating else "step_completed"
            if not self._end_lease(tx, claim, new_state, now, event, **values):
                return False
            self._breaker_outcome(tx, claim, now, success=True)
            rows, run_state = self._rows(tx, claim.run_id)
            states = {name: row.state for name, row in rows.items()}
            results = dict(claim.results)
            if compensating:
                plan = after_compensation_settled(claim.workflow, states, claim.step)
            else:
                results[claim.step] = json.loads(encoded or "null")
                data = {"input": claim.input, "results": results}
                plan = after_step_completed(claim.workflow, run_state, states, claim.step, data)
            finished = self._apply(tx, claim, plan, run_state, now)
            self._chain(tx, claim, plan, rows, results, now, finished)
            return finished

    @db_retry()
    def _record_failure(self, claim: Claim, error: Exception) -> None:
        self._chained = None  # a retried attempt starts again
        now = self.clock.now()
        compensating = claim.purpose == "compensation"
        step = claim.workflow.steps[claim.step]
        policy: RetryPolicy = step.compensation_retry if compensating else step.retry
        current = StepState.COMPENSATING if compensating else StepState.RUNNING
        retry = (
            policy.retryable(error)
            and not isinstance(error, (SerializationError, ContractViolation))
            and not (isinstance(error, BusinessError) and not error.retryable)
            and claim.attempt < policy.max_attempts
        )
        column = "compensation_error" if compensating else "error"
        with self.store.transaction() as tx:
            tx.lock_run(claim.run_id)
            stored_action, _ = tx.step_errors(claim.run_id, claim.step)
            record = _classify(claim, step, error, stored_action)
            detail = _failure_detail(record)
            if isinstance(error, ContractViolation):
                detail["anomaly"] = "contract_violation"
            self._breaker_outcome(tx, claim, now, success=False)
            if retry and not compensating and self._rolling_back(tx, claim.run_id):
                # The run is being undone: a forward step that failed is not tried again (a
                # retry would make it ready behind the rollback's back), it is compensated.
                retry = False
                detail["error"] += " (not retried: the run is rolling back)"
            if retry and not tx.spend_retry(claim.run_id, claim.workflow.retry_budget):
                retry = False
                detail["error"] += (
                    f" (retry budget of {claim.workflow.retry_budget} for the run is spent)"
                )
            if retry:
                delay = policy.delay(claim.attempt, self._rng)
                if self._end_lease(
                    tx,
                    claim,
                    next_step_state(current, "retry"),
                    now,
                    "compensation_retry_scheduled" if compensating else "step_retry_scheduled",
                    {**detail, "delay": delay},
                    not_before=now + delay,
                    **{column: encode_error(record)},
                ):
                    self._log_failure(
                        claim,
                        "compensation_retry_scheduled" if compensating else "step_retry_scheduled",
                        record,
                    )
                return
            event = "compensation_failed" if compensating else "step_failed"
            new_state = next_step_state(current, "fail")
            if not self._end_lease(
                tx, claim, new_state, now, event, detail, **{column: encode_error(record)}
            ):
                return
            if compensating:
                # Never silently: a compensation that failed for good needs a human.
                self._log(tx, claim, "escalation", now, detail)
            rows, run_state = self._rows(tx, claim.run_id)
            states = {name: row.state for name, row in rows.items()}
            if compensating:
                plan = after_compensation_settled(claim.workflow, states, claim.step)
            else:
                plan = _forward_failure_plan(tx, claim, step, error, record, run_state, states)
            finished = self._apply(tx, claim, plan, run_state, now)
            self._chain(tx, claim, plan, rows, claim.results, now, finished)
        self._log_failure(claim, "compensation_failed" if compensating else "step_failed", record)
        if finished:
            self._fire(HookPoint.RUN_FINISHED, claim)

    def _rolling_back(self, tx: StoreTransaction, run_id: str) -> bool:
        run = tx.run(run_id)
        return run is not None and RunState(run.state) != RunState.RUNNING

    def _log_failure(self, claim: Claim, kind: str, record: StepError) -> None:
        """One JSON line per recorded failure (``kind`` as in the event log), for operators."""
        level = logging.INFO if kind.endswith("_retry_scheduled") else logging.WARNING
        if failure_log.isEnabledFor(level):
            line = {
                "event": kind,
                "run_id": claim.run_id,
                "workflow": claim.workflow.name,
                "step": claim.step,
                "worker_id": self.worker_id,
                "correlation_id": claim.correlation_id,
                "trace_id": trace_id_for(claim.run_id),
                **record.to_dict(),
            }
            failure_log.log(level, json.dumps(line, sort_keys=True))

    def _rows(self, tx: StoreTransaction, run_id: str) -> tuple[dict[str, StepRow], RunState]:
        rows, run_state = tx.steps_and_run_state(run_id)
        return rows, RunState(run_state)

    def _chain(
        self,
        tx: StoreTransaction,
        claim: Claim,
        plan: Plan,
        rows: Mapping[str, StepRow],
        results: Mapping[str, Any],
        now: float,
        finished: bool,
    ) -> None:
        """Keep working: lease, in this same transaction, the step this outcome made ready in
        the run, or else the next claimable step of any run (a claim without a commit of its
        own)."""
        if not self._keep_runs:
            return
        chained = None
        if not finished:
            chained = chain_next(
                tx, claim, plan, rows, results, self.worker_id, now, self.lease_seconds
            )
        if chained is None:
            chained = self._from_queue(tx, now)
        self._chained = chained

    def _from_queue(self, tx: StoreTransaction, now: float) -> Claim | None:
        """Claim from the queue, serving the workflows in turn (the rule in ``_priorities``)."""
        claim = claim_from_queue(
            tx, self.registry, self.worker_id, now, self.lease_seconds, self._last_served
        )
        if claim is not None:
            self._last_served = claim.workflow.name
        return claim

    def _apply(
        self, tx: StoreTransaction, claim: Claim, plan: Plan, run_state: RunState, now: float
    ) -> bool:
        return write_plan(tx, self.registry, claim.run_id, plan, run_state, now, self.worker_id)

    def _end_lease(
        self,
        tx: StoreTransaction,
        claim: Claim,
        new_state: StepState,
        now: float,
        event: str,
        detail: Mapping[str, Any] | None = None,
        **values: Any,
    ) -> bool:
        """End the claim's lease in ``new_state`` and log ``event``; False if it was taken over.

        Fenced on the lease token: a worker whose lease expired writes nothing but the fact.
        """
        if not tx.finish_leased(
            claim.run_id, claim.step, claim.token, str(new_state), now, **values
        ):
            self._lost_lease(tx, claim, now)
            return False
        self._log(tx, claim, event, now, detail)
        return True

    def _log(
        self,
        tx: StoreTransaction,
        claim: Claim,
        kind: str,
        now: float,
        detail: Mapping[str, Any] | None = None,
    ) -> None:
        tx.append_event(
            claim.run_id,
            kind,
            now,
            step=claim.step,
            attempt=claim.attempt,
            worker_id=self.worker_id,
            detail=detail,
        )

    def _lost_lease(self, tx: StoreTransaction, claim: Claim, now: float) -> None:
        # Another worker took the step over after our lease expired: its record wins, ours is
        # dropped, and the log says so.
        tx.append_event(
            claim.run_id,
            "late_write_rejected",
            now,
            step=claim.step,
            attempt=claim.attempt,
            worker_id=self.worker_id,
        )


def _forward_failure_plan(
    tx: StoreTransaction,
    claim: Claim,
    step: Step,
    error: Exception,
    record: StepError,
    run_state: RunState,
    states: Mapping[str, StepState],
) -> Plan:
    """What follows a forward step's failure for good: its fallback route, or the rollback."""
    cause = fallback_cause(error, record.definite)
    if run_state == RunState.RUNNING and takes_fallback(step, cause):
        return after_step_replaced(
            claim.workflow, states, claim.step, definite=record.definite, cause=cause
        )
    if run_state == RunState.RUNNING:
        tx.set_run_failure(claim.run_id, failure_record(claim.step, record))
    return after_step_failed(
        claim.workflow, run_state, states, claim.step, definite=record.definite
    )


def _classify(claim: Claim, step: Step, error: Exception, stored_action: str | None) -> StepError:
    """The record of a failed attempt, with whether the step's failure is definite so far."""
    if claim.purpose == "compensation":
        # A compensation is retried and escalated the same either way; the record still says
        # whether the service refused the undo, which is what the person who must look needs.
        definite = refused(error, ())
    else:
        definite = failure_is_definite(
            error,
            step.definite_errors,  # type: ignore[arg-type]  # types once defined
            previous=decode_error(stored_action),
            reclaimed=claim.reclaimed,
        )
    return step_error(error, attempt=claim.attempt, definite=definite, purpose=claim.purpose)


def _failure_detail(record: StepError) -> dict[str, Any]:
    """A failure event's detail: a line for people, and the record's fields for tools."""
    return {
        "error": f"{record.type}: {record.message}",
        "type": record.type,
        "message": record.message,
        "code": record.code,
        "attempt": record.attempt,
        "definite": record.definite,
    }

"""A worker: claims ready steps under leases, runs them, and records each outcome durably."""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from ._actions import check_postcondition, check_precondition, encode_output, run_action
from ._adaptive import Saturation, WorkerSlots
from ._breaker import admit
from ._claims import Claim, idempotency_key
from ._clock import Clock, SystemClock
from ._definition import StepContext, Workflow
from ._engine import on_compensate_completed
from ._errors import StoreError
from ._failures import parent_rollback_record
from ._heartbeats import Heartbeats
from ._hooks import HookEvent, HookPoint, Hooks
from ._rate_limits import acquire
from ._recording import FAILURE_LOGGER, Recorder
from ._registry import WorkflowRegistry
from ._runs import child_run_id, create_run, write_plan
from ._runtime import Doorbell, Runtime, ThreadRuntime
from ._stall import SWEEP_SECONDS, apply_stall, declares_stalls, due_stalls
from ._states import RunState, StepState, next_step_state
from ._store import Store

__all__ = ["FAILURE_LOGGER", "Claim", "Worker", "idempotency_key"]

log = logging.getLogger("chaosflow.orchestrator")

# The shortest idle wait: a due time that has just passed is claimable in the next round.
_MIN_IDLE_WAIT = 0.001
# The first wait after the store failed a claim; it doubles up to two seconds.
_STORE_BACKOFF = 0.05


class Worker(Recorder):
    """Claims and runs steps of the registered workflows, one at a time per ``tick``."""

    def __init__(
        self,
        store: Store,
        registry: WorkflowRegistry,
        *,
        worker_id: str | None = None,
        clock: Clock | None = None,
        hooks: Hooks | None = None,
        lease_seconds: float = 30.0,
        heartbeat_seconds: float | None = None,
        poll_interval: float = 0.05,
        seed: int | None = None,
        runtime: Runtime | None = None,
        doorbell: Doorbell | None = None,
        saturation: Saturation | None = None,
        heartbeats: Heartbeats | None = None,
    ) -> None:
        if lease_seconds <= 0:
            raise ValueError(f"lease_seconds={lease_seconds!r} must be positive.")
        heartbeat = lease_seconds / 3 if heartbeat_seconds is None else heartbeat_seconds
        if not 0 < heartbeat < lease_seconds:
            raise ValueError(
                f"heartbeat_seconds={heartbeat_seconds!r} must be positive and shorter than "
                f"lease_seconds={lease_seconds!r}, or the lease expires between heartbeats."
            )
        self.heartbeat_seconds = heartbeat
        self.store = store
        self.registry = registry
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.clock = clock or SystemClock()
        self.hooks = hooks or Hooks()
        self.lease_seconds = lease_seconds
        self.poll_interval = poll_interval
        self._rng = random.Random(seed)
        self.runtime = runtime or ThreadRuntime()
        # With a doorbell (rung by commits in this process), an idle worker sleeps until work is
        # due or a ring; without one it polls the store every ``poll_interval``.
        self.doorbell = doorbell
        # One beat per process keeps every lease its workers hold alive (``_heartbeats``):
        # workers of one process may share theirs; a worker without one gets its own.
        if heartbeats is not None and heartbeats.lease_seconds != lease_seconds:
            raise ValueError(
                f"lease_seconds={lease_seconds!r} differs from the shared heartbeats' "
                f"lease_seconds={heartbeats.lease_seconds!r}; give workers that share "
                "heartbeats the same lease."
            )
        self.heartbeats = heartbeats or Heartbeats(
            store, self.clock, self.runtime, lease_seconds=lease_seconds, interval=heartbeat
        )
        self._next_sweep = float("-inf")  # when to look for stalled runs next (_stall)
        # Its process's adaptive limits and health (_adaptive), shared with the other workers.
        self.slots = WorkerSlots(saturation or Saturation(), self.worker_id)

    # -- the loop ---------------------------------------------------------------------------

    def run(
        self,
        *,
        max_seconds: float,
        stop_when: Callable[[], bool] | None = None,
        stop_event: threading.Event | None = None,
    ) -> int:
        """Work until ``stop_when()`` holds, ``stop_event`` is set, or ``max_seconds`` pass.

        Returns the number of steps handled. A store that cannot be reached is retried with
        capped backoff until the time runs out, so a database restart loses nothing.
        """
        deadline = self.clock.now() + max_seconds
        handled, backoff = 0, _STORE_BACKOFF
        # Inside the loop a worker keeps the runs it has (one commit per step); a lone ``tick``
        # leaves the next step in the queue.
        self._keep_runs = True
        while self.clock.now() < deadline:
            if stop_event is not None and stop_event.is_set():
                break
            try:
                if self.tick():
                    handled += 1
                    backoff = _STORE_BACKOFF
                    continue
                if stop_when is not None and stop_when():
                    break
                idle = self._idle_wait(deadline)
            except (OperationalError, StoreError) as error:
                log.warning("store unavailable, retrying in %.2fs: %s", backoff, error)
                self.clock.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            if self.doorbell is None:
                self.clock.sleep(idle)
            else:
                self.doorbell.wait(idle)
        # Not in a ``finally``: a crash must leave its leases behind, as a killed process does.
        self._keep_runs = False
        self._release_chained()
        self.heartbeats.close()
        return handled

    def _release_chained(self) -> None:
        """Hand back a step leased for the next round that this loop will not run: to the
        queue, its attempt unspent, fenced like every lease-ending write."""
        claim, self._chained = self._chained, None
        if claim is None:
            return
        current = StepState.COMPENSATING if claim.purpose == "compensation" else StepState.RUNNING
        try:
            with self.store.transaction() as tx:
                self._end_lease(
                    tx,
                    claim,
                    next_step_state(current, "defer"),
                    self.clock.now(),
                    "step_deferred",
                    {"reason": "the worker stopped before running it"},
                    attempt=claim.attempt - 1,
                )
        except (OperationalError, StoreError) as error:  # the lease then simply expires
            log.warning("could not hand back %s/%s: %s", claim.run_id, claim.step, error)

    def _idle_wait(self, deadline: float) -> float:
        """How long to wait before the next claim: the poll interval, or with a doorbell, until
        the next retry or lease expiry falls due (a ring cuts it short)."""
        now = self.clock.now()
        wait = min(self.poll_interval, max(deadline - now, 0.0))
        if self.doorbell is not None:
            due = self.store.next_due(self.registry.names())
            if due is not None:
                wait = min(wait, max(due - now, _MIN_IDLE_WAIT))
        return wait

    def tick(self) -> bool:
        """Claim one step and run it to a recorded outcome; False when nothing was claimable.

        A step the last outcome's transaction leased already (the worker kept its run) is run
        first, without a claim of its own.
        """
        claim, self._chained = self._chained, None
        if claim is None:
            claim = self._claim()
        if claim is None:
            self._sweep_stalls()
            return False
        with self.slots.step():  # busy; a slot still held on the way out is given back
            self._execute(claim)
        return True

    def _sweep_stalls(self) -> None:
        """With nothing to claim, apply the policy of runs past their stall deadline (at most
        once every ``SWEEP_SECONDS``, and only where a stall policy is declared)."""
        now = self.clock.now()
        if now < self._next_sweep or not declares_stalls(self.registry):
            return
        self._next_sweep = now + SWEEP_SECONDS
        with self.store.transaction() as tx:
            for run_id in due_stalls(tx, now, self.registry.names()):
                apply_stall(tx, self.registry, run_id, now, self.worker_id)

    # -- claiming ---------------------------------------------------------------------------

    def _claim(self) -> Claim | None:
        now = self.clock.now()
        if not self.registry.names():
            return None
        with self.store.transaction() as tx:
            return self._from_queue(tx, now)

    # -- running ----------------------------------------------------------------------------

    def _fire(self, point: HookPoint, claim: Claim) -> None:
        self.hooks.fire(
            HookEvent(
                point,
                claim.run_id,
                claim.workflow.name,
                claim.step,
                claim.attempt,
                self.worker_id,
                self.clock.now(),
                claim.correlation_id,
            )
        )

    def _execute(self, claim: Claim) -> None:
        step = claim.workflow.steps[claim.step]
        compensating = claim.purpose == "compensation"
        if claim.reclaimed:
            self._fire(HookPoint.LEASE_EXPIRED, claim)
        self._fire(
            HookPoint.COMPENSATION_CLAIMED if compensating else HookPoint.STEP_CLAIMED, claim
        )
        if step.subworkflow is not None:
            if compensating:
                self._compensate_child(claim, step.subworkflow)
            else:
                self._start_child(claim, step.subworkflow)
            return
        action = step.compensation if compensating else step.action
        assert action is not None  # only steps with a compensation are scheduled for one
        context = StepContext(
            claim.run_id,
            claim.workflow.name,
            claim.step,
            claim.attempt,
            claim.purpose,
            idempotency_key(claim.run_id, claim.step, claim.purpose),
            claim.input,
            claim.results,
            claim.correlation_id,
            self.clock,
        )
        if not compensating and step.breaker is not None and not self._admitted(claim):
            return
        if not compensating and step.rate_limit is not None and not self._token_taken(claim):
            return
        if not compensating and step.concurrency is not None and not self._slot_taken(claim):
            return
        self._fire(
            HookPoint.BEFORE_COMPENSATION if compensating else HookPoint.BEFORE_ACTION, claim
        )
        lease = (claim.run_id, claim.step, claim.token)
        try:
            if not compensating:
                check_precondition(step, context)
            # Held only while the action runs, as before the beat was shared: the outcome's
            # fenced write ends the lease, and a crash (BaseException) must not leave it beating.
            self.heartbeats.hold(lease)
            try:
                output = self.slots.timed(  # the call is a sample of its dependency's latency
                    self.clock.now,
                    lambda: run_action(
                        self.runtime,
                        self.clock,
                        context,
                        step.timeout,
                        lambda: self.hooks.intercept(context, lambda: action(context)),
                    ),
                )
            finally:
                self.heartbeats.release(lease)
            if not compensating:
                check_postcondition(step, context, output)
            encoded = (
                None if compensating else encode_output(claim.step, claim.workflow.name, output)
            )
        except Exception as error:  # a step may raise anything; BaseException (a crash) unwinds
            self._record_failure(claim, error)
            return
        self._fire(HookPoint.AFTER_COMPENSATION if compensating else HookPoint.AFTER_ACTION, claim)
        finished = self._record_success(claim, encoded)
        self._fire(
            HookPoint.AFTER_COMPENSATION_COMMIT if compensating else HookPoint.AFTER_COMMIT, claim
        )
        if finished:
            self._fire(HookPoint.RUN_FINISHED, claim)

    def _start_child(self, claim: Claim, child: Workflow) -> None:
        """Start the sub-workflow's run and park the step until the child ends, in one commit."""
        self._fire(HookPoint.BEFORE_ACTION, claim)
        now = self.clock.now()
        child_id = child_run_id(claim.run_id, claim.step)
        with self.store.transaction() as tx:
            tx.lock_run(claim.run_id)
            new_state = next_step_state(StepState.RUNNING, "start_child")
            started = {"child": child_id, "workflow": child.name, "version": child.version}
            if not self._end_lease(tx, claim, new_state, now, "subworkflow_started", started):
                return
            create_run(
                tx,
                self.registry,
                child,
                child_id,
                claim.input,
                now,
                correlation_id=claim.correlation_id,
                parent=(claim.run_id, claim.step),
                actor=self.worker_id,
                stall=claim.workflow.steps[claim.step].stall,
            )
        self._fire(HookPoint.AFTER_COMMIT, claim)

    def _compensate_child(self, claim: Claim, child: Workflow) -> None:
        """Roll the completed child run back and park the step until it ends, in one commit."""
        self._fire(HookPoint.BEFORE_COMPENSATION, claim)
        now = self.clock.now()
        child_id = child_run_id(claim.run_id, claim.step)
        with self.store.transaction() as tx:
            tx.lock_run(claim.run_id)
            tx.lock_run(child_id)
            new_state = next_step_state(StepState.COMPENSATING, "compensate_child")
            detail = {"child": child_id}
            if not self._end_lease(tx, claim, new_state, now, "child_compensation_started", detail):
                return
            run = tx.run(child_id)
            assert run is not None  # a completed sub-workflow step always has its child run
            definition = self.registry.get(run.workflow, run.version)
            states = {name: row.state for name, row in tx.steps(child_id).items()}
            tx.set_run_failure(child_id, parent_rollback_record(claim.run_id))
            plan = on_compensate_completed(definition, states)
            write_plan(tx, self.registry, child_id, plan, RunState(run.state), now, self.worker_id)
        self._fire(HookPoint.AFTER_COMPENSATION_COMMIT, claim)

    def _admitted(self, claim: Claim) -> bool:
        """Ask the step's circuit breaker; when it is open, put the step back, attempt unspent."""
        breaker = claim.workflow.steps[claim.step].breaker
        assert breaker is not None
        now = self.clock.now()
        with self.store.transaction() as tx:
            admission = admit(tx, breaker, now)
            if admission.admitted:
                if admission.event:
                    tx.append_event(
                        claim.run_id,
                        admission.event,
                        now,
                        step=claim.step,
                        worker_id=self.worker_id,
                        detail={"resource": breaker.resource},
                    )
                return True
            self._defer(tx, claim, now, {"resource": breaker.resource}, admission.retry_at)
        return False

    def _token_taken(self, claim: Claim) -> bool:
        """Take a token from the step's shared rate limit; without one, put the step back until
        the next token is due, its attempt unspent."""
        limit = claim.workflow.steps[claim.step].rate_limit
        assert limit is not None
        now = self.clock.now()
        with self.store.transaction() as tx:
            decision = acquire(tx, limit, now)
            if decision.granted:
                return True
            self._defer(tx, claim, now, {"rate_limit": limit.name}, decision.retry_at)
        return False

    def _slot_taken(self, claim: Claim) -> bool:
        """Take a slot of the step's adaptive concurrency limit; without one, put the step back
        for about the time a call in flight takes to free one, its attempt unspent."""
        step = claim.workflow.steps[claim.step]
        assert step.concurrency is not None
        definite: Any = step.definite_errors
        if self.slots.acquire(step.concurrency, definite):
            return True
        now = self.clock.now()
        until = now + self.slots.saturation.wait_hint(step.concurrency)
        with self.store.transaction() as tx:
            self._defer(tx, claim, now, {"concurrency": step.concurrency.name}, until)
        return False

    def _defer(
        self, tx: Any, claim: Claim, now: float, why: dict[str, Any], until: float | None
    ) -> None:
        # Put the step back until ``until`` without spending its attempt (an open breaker, a
        # rate limit without a token): waiting is not failing.
        self._end_lease(
            tx,
            claim,
            next_step_state(StepState.RUNNING, "defer"),
            now,
            "step_deferred",
            {**why, "until": until},
            not_before=until,
            attempt=claim.attempt - 1,
        )

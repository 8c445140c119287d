"""A Hypothesis state machine over the orchestrator: submit, tick, crash, advance the clock,
and after every step the services' view must hold; after the heal every run must end."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
)

from examples.order_saga import ShippingRefused
from faults import CRASH_POINTS, CrashAt, SimulatedCrash
from orchestrator import ManualClock, Orchestrator, RetryPolicy, Step, StepContext, Workflow
from scenarios import (
    EffectLedger,
    History,
    RecordingService,
    Verdict,
    check_compensation_order,
    check_duplicate_effects,
    check_missing_compensations,
    check_progress,
)

ORDERS = [
    {"sku": "book", "amount": 10, "address": "1 Main St"},
    {"sku": "desk", "amount": 99, "address": "undeliverable"},
]


def saga(ledger: EffectLedger) -> Workflow:
    stock, shipping = RecordingService("stock", ledger), RecordingService("shipping", ledger)
    payment = RecordingService("payment", ledger)

    def ship(ctx: StepContext) -> Any:
        if ctx.input["address"] == "undeliverable":
            raise ShippingRefused("no such address")
        return shipping.apply(ctx)

    return Workflow(
        "order",
        [
            Step("reserve", lambda c: stock.apply(c), lambda c: stock.compensate(c)),
            Step(
                "charge",
                lambda c: payment.apply(c),
                lambda c: payment.compensate(c),
                after=("reserve",),
            ),
            Step(
                "ship",
                ship,
                lambda c: shipping.compensate(c),
                after=("charge",),
                retry=RetryPolicy(non_retryable=(ShippingRefused,)),
            ),
        ],
    )


class OrchestratorMachine(RuleBasedStateMachine):
    runs = Bundle("runs")

    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="chaosflow-stateful-"))
        self.ledger = EffectLedger(self.folder / "effects.db")
        self.clock = ManualClock(0.0)
        self.orch = Orchestrator(f"sqlite:///{self.folder / 'store.db'}", clock=self.clock)
        self.workflow = saga(self.ledger)
        self.orch.register(self.workflow)
        self.workers = [self.orch.worker(lease_seconds=5) for _ in range(2)]
        self.submitted: list[str] = []
        self.armed: list[Any] = []

    def history(self) -> History:
        return History(self.orch.events(), self.ledger.effects(), tuple(self.submitted))

    @rule(target=runs, order=st.sampled_from(ORDERS))
    def submit(self, order: dict[str, Any]) -> str:
        run_id = self.orch.submit("order", order)
        self.submitted.append(run_id)
        return run_id

    @rule(index=st.integers(0, 1))
    def tick(self, index: int) -> None:
        try:
            self.workers[index].tick()
        except SimulatedCrash:
            self.workers[index] = self.orch.worker(lease_seconds=5)  # a new process

    # The points where a crash separates an effect from its record weigh most.
    @rule(
        point=st.sampled_from(["after_action", "after_compensation", *CRASH_POINTS]),
        step=st.sampled_from(["reserve", "charge", "ship"]),
    )
    def arm_a_crash(self, point: str, step: str) -> None:
        self.armed.append(self.orch.hooks.add_listener(CrashAt(point, step)))

    @rule(seconds=st.sampled_from([0.5, 6.0]))  # 6 s outlives a 5 s lease
    def advance_the_clock(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @invariant()
    def no_effect_applied_twice(self) -> None:
        assert check_duplicate_effects(self.history()).verdict == Verdict.VALID

    @invariant()
    def compensations_in_reverse_order(self) -> None:
        assert check_compensation_order(self.history()).verdict == Verdict.VALID

    def teardown(self) -> None:
        try:
            for disarm in self.armed:  # the faults heal
                disarm()
            self.orch.run_until_quiet(max_seconds=600)
            history = self.history()
            assert check_progress(history).verdict in (Verdict.VALID, Verdict.UNKNOWN)
            assert check_missing_compensations(history).verdict == Verdict.VALID
        finally:
            self.orch.store.dispose()
            shutil.rmtree(self.folder, ignore_errors=True)


OrchestratorMachine.TestCase.settings = settings(
    max_examples=15, stateful_step_count=25, deadline=None
)
TestOrchestratorMachine = OrchestratorMachine.TestCase

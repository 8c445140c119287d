"""A fallback route under a real fault: the first carrier is partitioned behind the real Toxiproxy,
the shipment goes with the second, and the checkers find the history valid. SQLite and
PostgreSQL.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from faults import ToxiproxyClient, free_port
from orchestrator import (
    BusinessError,
    Fallback,
    Orchestrator,
    RetryPolicy,
    RunState,
    Step,
    StepContext,
    StepState,
    Workflow,
)
from scenarios import EffectLedger, History, HttpService, check, create_service_app

pytestmark = [pytest.mark.toxiproxy, pytest.mark.slow]

FEW = RetryPolicy(max_attempts=2, initial_interval=0.05, max_interval=0.05, jitter=False)
# An undo must outlast the partition: it is retried until the carrier answers again.
PATIENT = RetryPolicy(max_attempts=200, initial_interval=0.05, max_interval=0.5)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


class ServiceThread:
    """An example service (the real HTTP app over uvicorn) on a thread of this process: a
    subprocess would spend its start importing what this process has imported already."""

    def __init__(self, name: str, ledger: EffectLedger) -> None:
        port = free_port()
        config = uvicorn.Config(
            create_service_app(name, ledger), host="127.0.0.1", port=port, log_level="warning"
        )
        self.server = uvicorn.Server(config)
        self.url = f"http://127.0.0.1:{port}"
        self.thread = threading.Thread(target=self.server.run, name=f"service-{name}", daemon=True)

    def __enter__(self) -> ServiceThread:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive() and time.monotonic() < deadline, "service did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two real carrier services sharing one ledger, started once for the module (each test
    reads only its own runs' effects)."""
    ledger = EffectLedger(tmp_path_factory.mktemp("carriers") / "effects.db")
    with ServiceThread("carrier_a", ledger) as a, ServiceThread("carrier_b", ledger) as b:
        yield {"a_url": a.url, "b_url": b.url, "ledger": ledger}


@pytest.fixture
def carriers(toxiproxy: ToxiproxyClient, services: dict[str, Any]) -> dict[str, Any]:
    """The carriers' clients; the first reached through a Toxiproxy proxy of this test."""
    port = services["a_url"].rsplit(":", 1)[1]
    proxy = toxiproxy.create_proxy("carrier_a", f"127.0.0.1:{port}")
    return {
        "proxy": proxy,
        "a": HttpService("carrier_a", f"http://127.0.0.1:{proxy.listen_port}", timeout=2.0),
        "b": HttpService("carrier_b", services["b_url"], timeout=5.0),
        "effects": lambda runs: [e for e in services["ledger"].effects() if e.run_id in runs],
    }


def shipping(carriers: dict[str, Any], *, invoice_refused: bool = False) -> Workflow:
    a, b = carriers["a"], carriers["b"]

    def invoice(ctx: StepContext) -> str:
        if invoice_refused:
            raise BusinessError("the customer's account is closed")
        return "sent"

    return Workflow(
        "shipping",
        [
            Step(
                "ship_a",
                lambda ctx: a.apply(ctx, parcel=ctx.input["parcel"]),
                lambda ctx: a.compensate(ctx),
                retry=FEW,
                compensation_retry=PATIENT,
                timeout=10,
                # A partition leaves the outcome unknown: a lost connection, or the timeout.
                fallback=Fallback("ship_b", on=("indeterminate", "timeout")),
            ),
            Step(
                "ship_b",
                lambda ctx: b.apply(ctx, parcel=ctx.input["parcel"]),
                lambda ctx: b.compensate(ctx),
                retry=FEW,
            ),
            Step("invoice", invoice, after=("ship_a",), retry=FEW),
        ],
    )


def test_a_partitioned_carrier_is_replaced_by_the_fallback_and_the_run_completes(
    carriers: dict[str, Any], store_url: str
) -> None:
    orch = Orchestrator(store_url)
    try:
        wf = shipping(carriers)
        run_ids = [orch.submit(wf, {"parcel": n}) for n in range(3)]
        with carriers["proxy"].partitioned():
            orch.run_until_quiet(max_seconds=120)
        for run_id in run_ids:
            status = orch.status(run_id)
            assert status.state == RunState.COMPLETED, status.to_dict()
            assert status.steps["ship_a"] == StepState.REPLACED_INDETERMINATE
            assert status.steps["ship_b"] == StepState.COMPLETED
        effects = carriers["effects"](run_ids)
        # Nothing reached the partitioned carrier; every parcel went with the second, once.
        assert {e.service for e in effects} == {"carrier_b"}
        assert sorted(e.run_id for e in effects if e.kind == "apply") == sorted(run_ids)
        kinds = [e.kind for e in orch.events()]
        assert kinds.count("fallback_taken") == len(run_ids)
        judgement = check(History.observe(orch, effects, run_ids))
        assert judgement.verdict == "valid", judgement.anomalies
    finally:
        orch.store.dispose()


def test_after_a_fallback_a_rollback_undoes_what_ran(
    carriers: dict[str, Any], store_url: str
) -> None:
    """The invoice is refused after the fallback shipped: the second carrier's booking is undone,
    and the partitioned first carrier (outcome unknown) is asked to undo too, once healed."""
    orch = Orchestrator(store_url)
    try:
        wf = shipping(carriers, invoice_refused=True)
        run_id = orch.submit(wf, {"parcel": 7})
        worker = orch.worker()
        with carriers["proxy"].partitioned():
            # Run until the fallback has shipped, with the first carrier still cut off (the
            # worker goes on into the rollback; the first carrier's undo waits for the heal).
            worker.run(
                max_seconds=60,
                stop_when=lambda: any(
                    e.kind == "step_completed" and e.step == "ship_b" for e in orch.events(run_id)
                ),
            )
        orch.run_until_quiet(max_seconds=120)
        status = orch.status(run_id)
        assert status.state == RunState.ROLLED_BACK, status.to_dict()
        assert status.steps["ship_b"] == StepState.COMPENSATED
        assert status.steps["ship_a"] == StepState.COMPENSATED
        effects = carriers["effects"]([run_id])
        assert [(e.service, e.kind) for e in effects] == [
            ("carrier_b", "apply"),
            ("carrier_b", "compensate"),
        ]
        judgement = check(History.observe(orch, effects, [run_id]))
        assert judgement.verdict == "valid", judgement.anomalies
    finally:
        orch.store.dispose()

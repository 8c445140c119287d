"""The example services as real HTTP servers in processes of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from scenarios import EffectLedger, HttpService
from tests._servers import start_service

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, tuple[str, Path]]]:
    # Started once for the module: each test uses run ids of its own.
    tmp_path = tmp_path_factory.mktemp("services")
    started = {}
    processes = []
    for name, extra in (
        ("payment", ()),
        ("careless", ("--ignore-keys",)),
        ("stock", ()),
        ("shipping", ()),
    ):
        ledger = tmp_path / f"{name}.db"
        process, url = start_service(name, ledger, *extra)
        processes.append(process)
        started[name] = (url, ledger)
    yield started
    for process in processes:
        process.terminate()
        process.wait(10)


def ctx(run_id: str, step: str, key: str) -> SimpleNamespace:
    return SimpleNamespace(run_id=run_id, step=step, idempotency_key=key)


def test_a_service_honours_idempotency_keys(services: dict[str, tuple[str, Path]]) -> None:
    url, ledger = services["payment"]
    payment = HttpService("payment", url)
    first = payment.apply(ctx("r1", "charge", "r1:charge"), amount=10)
    again = payment.apply(ctx("r1", "charge", "r1:charge"), amount=10)
    assert again == {**first, "replayed": True}
    assert payment.compensate(ctx("r2", "charge", "r2:charge:compensation")) is None
    assert payment.compensate(ctx("r1", "charge", "r1:charge:compensation")) is not None
    effects = [e for e in EffectLedger(ledger).effects() if e.run_id in ("r1", "r2")]
    assert [(e.kind, e.key) for e in effects] == [
        ("apply", "r1:charge"),
        ("compensate", "r1:charge:compensation"),
    ]


def test_a_careless_service_applies_every_call(services: dict[str, tuple[str, Path]]) -> None:
    url, ledger = services["careless"]
    careless = HttpService("careless", url)
    careless.apply(ctx("c1", "charge", "c1:charge"), amount=10)
    careless.apply(ctx("c1", "charge", "c1:charge"), amount=10)
    assert len([e for e in EffectLedger(ledger).effects() if e.run_id == "c1"]) == 2


def test_the_order_saga_calls_real_services_from_a_worker_process(
    services: dict[str, tuple[str, Path]], tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'store.db'}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("payment", "stock", "shipping"):
        env[f"CHAOSFLOW_SERVICE_{name.upper()}_URL"] = services[name][0]
    common = ["--db", db, "--workflow", "examples.order_saga:order_saga"]

    def chaosflow(*args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "chaosflow", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,  # generous: each command ends as soon as its work does
        )
        assert out.returncode == 0, out.stderr
        return out.stdout

    good = chaosflow(
        "submit", *common, "--input", '{"sku": "a", "qty": 1, "amount": 7, "address": "1 Main St"}'
    ).strip()
    bad = chaosflow(
        "submit",
        *common,
        "--input",
        '{"sku": "b", "qty": 1, "amount": 9, "address": "undeliverable"}',
    ).strip()
    chaosflow("worker", *common, "--until-idle", "--max-seconds", "300")
    mine = (good, bad)
    payments = [e for e in EffectLedger(services["payment"][1]).effects() if e.run_id in mine]
    assert [(e.run_id, e.kind) for e in payments] == [
        (good, "apply"),
        (bad, "apply"),
        (bad, "compensate"),
    ]
    shipped = [e.run_id for e in EffectLedger(services["shipping"][1]).effects()]
    assert [r for r in shipped if r in mine] == [good]

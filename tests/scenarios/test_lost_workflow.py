"""A store restored from a backup loses an acknowledged run: the checkers say so, from the
client's acknowledgements and the services' effects, whatever the restored store believes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from examples.order_saga import order_saga
from orchestrator import Orchestrator
from scenarios import EffectLedger, History, Verdict, check

SHIPS = {"sku": "book-1", "qty": 1, "amount": 1200, "address": "1 Main St"}


def test_a_restore_from_backup_loses_an_acknowledged_run(
    tmp_path: Path, effect_ledger: EffectLedger
) -> None:
    store = tmp_path / "store.db"
    orch = Orchestrator(f"sqlite:///{store}")
    orch.register(order_saga)
    first = orch.submit(order_saga, SHIPS, run_id="before-backup")
    backup = tmp_path / "backup.db"
    with sqlite3.connect(store) as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    second = orch.submit(order_saga, SHIPS, run_id="after-backup")
    orch.run_until_quiet(max_seconds=60)
    assert orch.unfinished_runs() == 0
    orch.store.dispose()

    # The operator restores last night's backup over the live store.
    with sqlite3.connect(backup) as copy, sqlite3.connect(store) as live:
        copy.backup(live)
    restored = Orchestrator(f"sqlite:///{store}")
    restored.register(order_saga)
    try:
        history = History.observe(
            restored,
            effect_ledger.effects(),
            [first, second],
        )
        judgement = check(history)
    finally:
        restored.store.dispose()
    verdicts = {r.checker: r.verdict for r in judgement.results}
    assert verdicts["lost_workflow"] == Verdict.INVALID
    lost = [a for a in judgement.anomalies if a.kind == "lost_workflow"]
    assert [a.run_id for a in lost] == ["after-backup"]
    # The run the backup kept is back at its start: not lost, but it will not end by itself.
    stuck = {a.run_id for a in judgement.anomalies if a.kind == "stuck_workflow"}
    assert stuck == {"before-backup", "after-backup"}
    # The services' effects are untouched by the restore: they saw both runs complete.
    assert {e.run_id for e in effect_ledger.effects()} == {first, second}

"""chaosflow's pytest plugin (registered through the ``pytest11`` entry point).

It adds the ``chaos`` marker, the ``--chaos-seed`` and ``--chaos-report`` options, and fixtures
for an orchestrator on a temporary SQLite store and for the effect ledger. Heavy imports happen
inside the fixtures, so loading the plugin costs every pytest run nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from orchestrator import Orchestrator
    from scenarios import EffectLedger


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line options."""
    group = parser.getgroup("chaosflow", "chaos testing of workflows")
    group.addoption(
        "--chaos-seed",
        type=int,
        default=0,
        help="seed for chaos scenarios' schedulers and fault plans (default 0)",
    )
    group.addoption(
        "--chaos-report", default=None, metavar="DIR", help="write chaos scenario reports under DIR"
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``chaos`` marker."""
    config.addinivalue_line(
        "markers", "chaos: a chaos scenario test run through the chaosflow plugin"
    )


@pytest.fixture
def chaos_seed(request: pytest.FixtureRequest) -> int:
    """The seed given with --chaos-seed."""
    return int(request.config.getoption("--chaos-seed"))


@pytest.fixture
def effect_ledger(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EffectLedger:
    """A fresh effect ledger, which RecordingServices without one of their own write to."""
    from scenarios import LEDGER_ENV, EffectLedger

    ledger = EffectLedger(tmp_path / "effects.db")
    monkeypatch.setenv(LEDGER_ENV, str(ledger.path))
    return ledger


@pytest.fixture
def chaos_orchestrator(tmp_path: Path) -> Iterator[Orchestrator]:
    """An orchestrator on a temporary SQLite file (WAL, full sync), disposed afterwards."""
    from orchestrator import Orchestrator

    orchestrator = Orchestrator(f"sqlite:///{tmp_path / 'store.db'}")
    yield orchestrator
    orchestrator.store.dispose()

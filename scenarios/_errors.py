"""Exceptions raised by scenarios.

ScenarioError          root
├── ScenarioDefinitionError   a scenario is malformed (raised when it is loaded)
├── LedgerError               the effect ledger is not configured or not usable
└── HarnessError              the harness itself failed (a component would not start, a worker
                              died of something other than a fault): no verdict, exit 4
"""

from __future__ import annotations


class ScenarioError(Exception):
    """Root of every error the scenarios package raises on purpose."""


class ScenarioDefinitionError(ScenarioError):
    """A scenario is malformed; raised when it is defined or loaded, naming the problem."""


class LedgerError(ScenarioError):
    """The effect ledger is not configured, or cannot be read or written."""


class HarnessError(ScenarioError):
    """The harness itself failed (a service would not start, a worker died of something other
    than an injected fault); never a verdict: the CLI exits 4 with an ``error`` in the result."""

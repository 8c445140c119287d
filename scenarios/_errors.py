"""Exceptions raised by scenarios.

ScenarioError          root
├── ScenarioDefinitionError   a scenario is malformed (raised when it is loaded)
└── LedgerError               the effect ledger is not configured or not usable
"""

from __future__ import annotations


class ScenarioError(Exception):
    """Root of every error the scenarios package raises on purpose."""


class ScenarioDefinitionError(ScenarioError):
    """A scenario is malformed; raised when it is defined or loaded, naming the problem."""


class LedgerError(ScenarioError):
    """The effect ledger is not configured, or cannot be read or written."""

"""Exceptions raised by the faults package.

FaultError                 root
├── FaultPlanError         a fault plan is invalid (raised when it is loaded)
├── ToxiproxyError         the Toxiproxy server or its API misbehaved, or a toxic is invalid
└── PostgresClusterError   the throwaway PostgreSQL cluster could not be started or used
"""

from __future__ import annotations


class FaultError(Exception):
    """Root of every error the faults package raises on purpose."""


class FaultPlanError(FaultError):
    """A fault plan is invalid; the message names the field and the value."""


class ToxiproxyError(FaultError):
    """The Toxiproxy server or its API misbehaved, or a toxic is invalid."""


class PostgresClusterError(FaultError):
    """The throwaway PostgreSQL cluster could not be started or used."""

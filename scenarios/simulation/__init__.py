"""The deterministic simulation: one process, virtual time, a seeded scheduler, fault twins."""

from ._runner import ORIGIN, run_in_process

__all__ = ["ORIGIN", "run_in_process"]

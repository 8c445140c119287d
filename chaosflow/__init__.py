"""chaosflow: resilience and chaos testing of multi-step business workflows.

This package is the composition root: the ``chaosflow`` command and the pytest plugin wire the
orchestrator, faults, scenarios, loadtests and reports together. The packages themselves are
``orchestrator``, ``faults``, ``scenarios``, ``loadtests`` and ``reports``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]

"""The one exception of the intake package.

InputError      root: an input file or value breaks a stated rule (its message names where)
"""

from __future__ import annotations


class InputError(ValueError):
    """An input breaks a stated rule; the message names the field path, the value and the rule.

    Each package that reads inputs re-raises it as its own root exception (a scenario file as a
    ``ScenarioError``, a fault plan as a ``FaultPlanError``), so callers catch one type per
    package as before.
    """

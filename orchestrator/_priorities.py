"""Priorities and fairness: the order in which a worker claims ready steps from the queue.

The rule, the same for every worker:

1. **Workflows in turn.** A worker serves the workflows it runs in rotation: each claim from the
   queue looks first at the workflow after the one it served last, then the next, and so on,
   and takes from the first that has a claimable step. So a claimable step waits for at most
   one claim of each other workflow (per worker) before its workflow's turn comes: a backlog
   of one workflow cannot starve another.
2. **Within a workflow, priority first.** Higher ``priority`` runs' steps go first, then the
   earliest due, then the oldest run. An urgent run waits only for steps of its own workflow
   of at least its priority that were due before it (and the rotation).

A worker that keeps its run (the hot path) goes on with that run until it ends, as before:
fairness acts between runs, when a worker returns to the queue. The rotation is the pure
function :func:`rotation`; the within-workflow order is the claim query's ``ORDER BY``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._errors import DefinitionError

# Priorities are small integers: a run's own, or its workflow's default.
MIN_PRIORITY, MAX_PRIORITY = -1000, 1000


def check_priority(priority: object, where: str) -> int:
    """``priority`` as an int in range, or a DefinitionError naming ``where`` it was given."""
    if (
        isinstance(priority, bool)
        or not isinstance(priority, int)
        or not MIN_PRIORITY <= priority <= MAX_PRIORITY
    ):
        raise DefinitionError(
            f"{where}: priority={priority!r} must be a whole number from {MIN_PRIORITY} to "
            f"{MAX_PRIORITY} (higher goes first; 0 is the default)."
        )
    return priority


def rotation(workflows: Sequence[str], last_served: str | None) -> list[str]:
    """The workflows in the order a worker looks at them: starting after ``last_served``."""
    names = sorted(workflows)
    if last_served not in names:
        return names
    start = names.index(last_served) + 1
    return names[start:] + names[:start]

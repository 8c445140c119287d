"""Canary versions: a share of new runs goes to a new version of a workflow, until it fails more
than a bound.

A :class:`Canary` is data on the new version (``Workflow(..., version=2, canary=Canary(stable=v1,
share=0.1))``). A submit of that version (by name, when it is the latest, or by the object)
picks, per run:

- the canary version when the run id's bucket (:func:`canary_bucket`, a hash of the id, so the
  same id always gets the same answer, in every process and in the simulation) falls below
  ``share`` and the canary has not been stopped;
- the stable version otherwise.

Each time a top-level run of the canary version ends, the transaction that ends it reads the
last ``window`` finished runs of that version (completed, rolled back or compensation failed;
a cancel is a person's choice, not the version's, and is not counted) and judges them with
:func:`judge_window`: more than ``max_failure_rate * window`` failures stops the canary. The
stop is written on the version's row of ``cf_canaries`` (schema version 4; each judgement locks
that row, so judgements take turns), once, with a ``canary_stopped`` event on the run whose end
tripped it; every submitter reads it, so none sends a new run to the
version afterwards. Runs already on the canary version finish on it, as every run finishes on
the version it began.

The decisions are pure functions of the run id and the stored states; the store only keeps
the stop.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ._errors import DefinitionError
from ._schema import canaries, runs

if TYPE_CHECKING:
    from ._definition import Workflow
    from ._registry import WorkflowRegistry
    from ._store import StoreTransaction

# The run ends that count against a canary, and every end that counts at all.
CANARY_FAILURES = ("compensation_failed", "rolled_back")
CANARY_COUNTED = ("completed", *CANARY_FAILURES)
MAX_WINDOW = 1000  # finished runs a judgement reads at most


@dataclass(frozen=True)
class Canary:
    """Send ``share`` of new runs to this version instead of ``stable``; stop when more than
    ``max_failure_rate`` of its last ``window`` finished runs failed."""

    stable: Workflow
    share: float
    max_failure_rate: float = 0.2
    window: int = 20

    def __post_init__(self) -> None:
        from ._definition import Workflow  # the definitions build on this module

        if not isinstance(self.stable, Workflow):
            raise DefinitionError(
                f"Canary stable={self.stable!r} is not a Workflow: name the version that takes "
                "the runs the canary does not, e.g. Canary(stable=order_v1, share=0.1)."
            )
        if not _number(self.share) or not 0 < self.share <= 1:
            raise DefinitionError(
                f"Canary share={self.share!r} must be a number above 0 and at most 1 (the "
                "fraction of new runs sent to the canary version, e.g. 0.1)."
            )
        if not _number(self.max_failure_rate) or not 0 <= self.max_failure_rate < 1:
            raise DefinitionError(
                f"Canary max_failure_rate={self.max_failure_rate!r} must be a number from 0 to "
                "below 1 (the failed fraction of the window that stops the canary, e.g. 0.2)."
            )
        if (
            isinstance(self.window, bool)
            or not isinstance(self.window, int)
            or not 1 <= self.window <= MAX_WINDOW
        ):
            raise DefinitionError(
                f"Canary window={self.window!r} must be a whole number from 1 to {MAX_WINDOW} "
                "(how many of the canary's last finished runs are judged)."
            )

    def to_dict(self) -> dict[str, Any]:
        """The canary as plain data (the stable version by its number)."""
        return {
            "stable": self.stable.version,
            "share": self.share,
            "max_failure_rate": self.max_failure_rate,
            "window": self.window,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], stable: Workflow) -> Canary:
        """The canary written as plain data (the inverse of :meth:`to_dict`), given the stable
        version's definition, which data cannot carry."""
        if not isinstance(data, Mapping) or "share" not in data:
            raise DefinitionError(
                f"A canary must be a mapping like {{'share': 0.1, 'max_failure_rate': 0.2, "
                f"'window': 20}}, not {data!r}."
            )
        if data.get("stable", stable.version) != stable.version:
            raise DefinitionError(
                f"Canary stable={data['stable']!r} names another version than the definition "
                f"given (v{stable.version}). Pass the stable version's Workflow."
            )
        return cls(stable, data["share"], data.get("max_failure_rate", 0.2), data.get("window", 20))


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_canary(canary: Canary | None, name: str, version: int) -> Canary | None:
    """``canary`` if it fits workflow ``name`` v``version``, else a DefinitionError."""
    if canary is None:
        return None
    where = f"Workflow {name!r} v{version}"
    if not isinstance(canary, Canary):
        raise DefinitionError(
            f"{where}: canary={canary!r} is not a Canary; write "
            "canary=Canary(stable=order_v1, share=0.1)."
        )
    if canary.stable.name != name or canary.stable.version >= version:
        raise DefinitionError(
            f"{where}: the canary's stable version is {canary.stable.name!r} "
            f"v{canary.stable.version}; it must be an older version of {name!r} (a lower "
            "version number)."
        )
    if canary.stable.canary is not None:
        raise DefinitionError(
            f"{where}: its stable version v{canary.stable.version} is a canary itself. Name a "
            "version without a canary as the stable one."
        )
    return canary


# -- the pure decisions -------------------------------------------------------------------------


def canary_bucket(run_id: str) -> float:
    """Where ``run_id`` falls in [0, 1): the first 8 bytes of its SHA-256, as a fraction.

    A hash, not a counter: every submitter decides alone, a retried submit of the same id
    decides the same, and ids spread evenly whatever their form.
    """
    digest = hashlib.sha256(run_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def takes_canary(canary: Canary, run_id: str, stopped: bool) -> bool:
    """Whether a new run ``run_id`` goes to the canary version."""
    return not stopped and canary_bucket(run_id) < canary.share


@dataclass(frozen=True)
class CanaryVerdict:
    """A judgement of the canary's last finished runs: how many, how many failed, and whether
    that stops it."""

    finished: int
    failures: int
    stop: bool


def judge_window(canary: Canary, states: Sequence[str]) -> CanaryVerdict:
    """Judge the end states of the canary's last finished runs (at most ``window`` counted).

    It stops when the failures exceed ``max_failure_rate * window``: such a count breaks the
    bound over the whole window whatever the runs still to finish do, so it need not wait for
    a full window.
    """
    counted = [s for s in states if s in CANARY_COUNTED][: canary.window]
    failures = sum(1 for s in counted if s in CANARY_FAILURES)
    return CanaryVerdict(len(counted), failures, failures > canary.max_failure_rate * canary.window)


# -- in the store ---------------------------------------------------------------------------


def canary_stopped(tx: StoreTransaction, name: str, version: int) -> bool:
    """Whether the canary of ``name`` v``version`` has been stopped."""
    query = select(canaries.c.stopped_at).where(
        (canaries.c.workflow == name) & (canaries.c.version == version)
    )
    return tx.conn.execute(query).scalar() is not None


def _lock_canary(tx: StoreTransaction, name: str, version: int) -> bool:
    """Create the canary's row if missing and lock it for ``tx``; whether it is stopped.

    The lock makes two workers ending canary runs at once judge one after the other, each
    seeing the other's run end (PostgreSQL reads what committed before each statement; SQLite
    writes one transaction at a time), so the stop comes at the first run end that breaks the
    bound, never later.
    """
    is_sqlite = tx.conn.dialect.name == "sqlite"
    dialect_insert = sqlite_insert if is_sqlite else postgresql_insert
    tx.conn.execute(
        dialect_insert(canaries)
        .values(workflow=name, version=version, stopped_at=None, detail="{}")
        .on_conflict_do_nothing(index_elements=["workflow", "version"])
    )
    query = select(canaries.c.stopped_at).where(
        (canaries.c.workflow == name) & (canaries.c.version == version)
    )
    if not is_sqlite:
        query = query.with_for_update()
    return tx.conn.execute(query).scalar() is not None


def route_submit(tx: StoreTransaction, definition: Workflow, run_id: str) -> Workflow:
    """The version a new run ``run_id`` of ``definition`` gets: itself, or its stable version
    when it is a canary that does not take this run."""
    canary = definition.canary
    if canary is None:
        return definition
    stopped = canary_stopped(tx, definition.name, definition.version)
    return definition if takes_canary(canary, run_id, stopped) else canary.stable


def judge_canary(
    tx: StoreTransaction, registry: WorkflowRegistry, run_id: str, now: float, actor: str | None
) -> None:
    """A run has just ended in ``tx``: if it is a top-level run of a canary version, judge the
    version's last finished runs and stop the canary when they fail too often."""
    run = tx.run(run_id)
    if run is None or run.parent_run_id is not None or (run.workflow, run.version) not in registry:
        return
    canary = registry.get(run.workflow, run.version).canary
    if canary is None or _lock_canary(tx, run.workflow, run.version):
        return
    query = (
        select(runs.c.state)
        .where((runs.c.workflow == run.workflow) & (runs.c.version == run.version))
        .where(runs.c.parent_run_id.is_(None) & runs.c.state.in_(CANARY_COUNTED))
        .order_by(runs.c.updated_at.desc(), runs.c.run_id.desc())
        .limit(canary.window)
    )
    verdict = judge_window(canary, [row.state for row in tx.conn.execute(query).all()])
    if not verdict.stop:
        return
    detail = {
        "workflow": run.workflow,
        "version": run.version,
        "stable": canary.stable.version,
        "finished": verdict.finished,
        "failures": verdict.failures,
        "window": canary.window,
        "max_failure_rate": canary.max_failure_rate,
    }
    tx.conn.execute(
        canaries.update()
        .where((canaries.c.workflow == run.workflow) & (canaries.c.version == run.version))
        .values(stopped_at=now, detail=json.dumps(detail, sort_keys=True))
    )
    tx.append_event(run_id, "canary_stopped", now, worker_id=actor, detail=detail)


def declares_canaries(registry: WorkflowRegistry) -> bool:
    """Whether any registered workflow version is a canary."""
    return any(w.canary is not None for w in registry.workflows())

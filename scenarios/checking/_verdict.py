"""Verdicts and anomalies: what the checkers say about a history."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    """A checker's answer. ``unknown`` is never read as ``valid``."""

    VALID = "valid"
    INVALID = "invalid"
    UNKNOWN = "unknown"


_SEVERITY = {Verdict.VALID: 0, Verdict.UNKNOWN: 1, Verdict.INVALID: 2}


def merge_verdicts(verdicts: Iterable[Verdict]) -> Verdict:
    """Worst first: any invalid makes invalid, else any unknown makes unknown; none is unknown."""
    found = list(verdicts)
    if not found:
        return Verdict.UNKNOWN
    return max(found, key=_SEVERITY.__getitem__)


ANOMALY_KINDS = (
    "duplicate_effect",
    "missing_compensation",
    "spurious_compensation",
    "compensation_order",
    "dependency_order",
    "stuck_workflow",
    "lost_workflow",
    "contract_violation",
    "effect_after_compensation",
)


@dataclass(frozen=True)
class Anomaly:
    """One broken invariant, with what a person needs to find and replay it."""

    kind: str
    run_id: str
    steps: tuple[str, ...]
    event_seqs: tuple[int, ...]
    detail: str
    replay_token: str | None = None


@dataclass(frozen=True)
class CheckResult:
    """One checker's verdict on a history, with the anomalies it found."""

    checker: str
    verdict: Verdict
    anomalies: tuple[Anomaly, ...] = ()
    note: str = ""

    @classmethod
    def judged(cls, checker: str, anomalies: Iterable[Anomaly], note: str = "") -> CheckResult:
        """A decided result: ``invalid`` when there are anomalies, else ``valid``."""
        found = tuple(anomalies)
        return cls(checker, Verdict.INVALID if found else Verdict.VALID, found, note)

    def with_token(self, token: str) -> CheckResult:
        """The same result with ``token`` set on every anomaly."""
        anomalies = tuple(
            Anomaly(a.kind, a.run_id, a.steps, a.event_seqs, a.detail, token)
            for a in self.anomalies
        )
        return CheckResult(self.checker, self.verdict, anomalies, self.note)


@dataclass(frozen=True)
class Judgement:
    """Every checker's result for one history."""

    results: tuple[CheckResult, ...] = field(default_factory=tuple)

    @property
    def verdict(self) -> Verdict:
        """The merged verdict, worst first."""
        return merge_verdicts(r.verdict for r in self.results)

    @property
    def anomalies(self) -> tuple[Anomaly, ...]:
        """Every anomaly of every checker."""
        return tuple(a for r in self.results for a in r.anomalies)

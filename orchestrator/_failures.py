"""The failure model: definite and indeterminate step failures, and the records an operator reads.

As Jepsen tells ``:fail`` from ``:info``, a step's failure is *definite* when the service said no
(it applied nothing) and *indeterminate* when the outcome is unknown (a timeout, a lost
connection, a worker that died, any error the step did not declare). Only the second is
compensated. The decision is a pure function of the step's declaration, the error and what the
earlier attempts left behind, so it is the same in every worker and can be tested alone.

Each failure is stored as a :class:`StepError` (JSON in the store), which :class:`RunStatus`,
``chaosflow status``, ``GET /runs/{id}`` and the event log carry.
"""

from __future__ import annotations

import builtins
import json
import pkgutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ._errors import BusinessError, ContractViolation, DefinitionError

MAX_MESSAGE = 2000  # characters of an error message kept in the store (an operator reads it)
MAX_CODE = 64  # characters of an error code: a code is a short stable token, not a message


@dataclass(frozen=True)
class StepError:
    """The last error of one step's action or compensation, as an operator reads it.

    ``type`` is the exception's qualified name (``examples.trip.CardDeclined``; builtins bare,
    ``TimeoutError``), ``code`` the exception's ``code`` attribute when it has a string or int
    one, ``attempt`` the attempt that raised it, and ``definite`` whether the step failed
    definitely: this attempt was refused *and* no earlier attempt's outcome is unknown.
    """

    type: str
    message: str
    code: str | None
    attempt: int
    definite: bool
    purpose: str = "action"  # "action" or "compensation"

    def to_dict(self) -> dict[str, Any]:
        """This error as JSON-ready data."""
        return {
            "type": self.type,
            "message": self.message,
            "code": self.code,
            "attempt": self.attempt,
            "definite": self.definite,
            "purpose": self.purpose,
        }

    def describe(self) -> str:
        """One line: type, code, message, attempt, and whether definite."""
        kind = "definite" if self.definite else "indeterminate"
        return f"{self.headline()} (attempt {self.attempt}, {kind})"

    def headline(self) -> str:
        """Type, code and message: ``CardDeclined [card_declined]: insufficient funds``."""
        code = f" [{self.code}]" if self.code else ""
        return f"{self.type}{code}: {self.message}"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepError:
        """The error in ``data`` (as :meth:`to_dict` wrote it)."""
        code = data.get("code")
        return cls(
            str(data.get("type", "")),
            str(data.get("message", "")),
            None if code is None else str(code),
            int(data.get("attempt", 0)),
            bool(data.get("definite", False)),
            str(data.get("purpose", "action")),
        )


@dataclass(frozen=True)
class RunFailure:
    """Why a run did not complete: the step that failed (or the cancel), and failed undos.

    ``step`` and ``error`` name the failure that started the rollback (None for a cancel, whose
    ``reason`` says who asked); ``compensation_failures`` holds each step whose compensation
    failed for good, with its last error. ``reason`` is one line for a person.
    """

    step: str | None
    error: StepError | None
    reason: str
    compensation_failures: Mapping[str, StepError] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """This failure as JSON-ready data."""
        return {
            "step": self.step,
            "error": None if self.error is None else self.error.to_dict(),
            "reason": self.reason,
            "compensation_failures": {
                name: error.to_dict() for name, error in self.compensation_failures.items()
            },
        }


def qualified_name(cls: type) -> str:
    """An exception type's stable name: ``module.QualName``, builtins bare (as tracebacks show)."""
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def resolve_error_type(name: str) -> type[BaseException]:
    """The exception type ``name`` (``module.QualName``, ``module:QualName`` or a builtin)."""
    found: object = getattr(builtins, name, None) if name.isidentifier() else None
    if found is None:
        try:
            found = pkgutil.resolve_name(name)
        except (ImportError, AttributeError, ValueError) as error:
            raise DefinitionError(
                f"definite_errors names {name!r}, which cannot be imported ({error}). Use "
                "'module.ExceptionClass' (or 'module:ExceptionClass') of an importable module."
            ) from None
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise DefinitionError(f"definite_errors names {name!r}, which is not an exception type.")
    return found


def error_code(error: BaseException) -> str | None:
    """The exception's stable ``code`` attribute, when it has a string or int one."""
    code = getattr(error, "code", None)
    if isinstance(code, bool) or not isinstance(code, str | int):
        return None
    text = str(code).strip()
    return text[:MAX_CODE] if text else None


def refused(error: BaseException, definite_errors: Iterable[type[BaseException]]) -> bool:
    """Whether ``error`` says the service refused (applied nothing), on its own.

    A :class:`BusinessError`, an instance of a declared definite type, or a broken precondition
    (the action was never called). Everything else leaves the outcome unknown.
    """
    if isinstance(error, BusinessError):
        return True
    if isinstance(error, ContractViolation):
        return error.condition == "precondition"
    return isinstance(error, tuple(definite_errors))


def failure_is_definite(
    error: BaseException,
    definite_errors: Iterable[type[BaseException]],
    *,
    previous: StepError | None,
    reclaimed: bool,
) -> bool:
    """Whether a step's failure is definite, counting what its earlier attempts left behind.

    An attempt that took over an expired lease follows one whose worker died mid-call, and an
    earlier indeterminate attempt may have applied the effect: after either, no refusal can
    prove that nothing was applied, so the failure stays indeterminate (and is compensated).
    """
    if reclaimed or (previous is not None and not previous.definite):
        return False
    return refused(error, definite_errors)


def step_error(
    error: BaseException, *, attempt: int, definite: bool, purpose: str = "action"
) -> StepError:
    """The record of ``error`` raised by ``attempt`` of a step's action or compensation."""
    message = str(error)
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 15] + " ...(truncated)"
    return StepError(
        qualified_name(type(error)), message, error_code(error), attempt, definite, purpose
    )


def encode_error(error: StepError) -> str:
    """A step error as the JSON text the store keeps."""
    return json.dumps(error.to_dict(), sort_keys=True)


def decode_error(text: str | None, *, purpose: str = "action") -> StepError | None:
    """The step error in the store's ``text``; plain text from a version-1 store is read too."""
    if not text:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and "type" in data:
        return StepError.from_dict({"purpose": purpose, **data})
    # Version 1 kept "TypeName: message" and nothing else: the outcome is unknown.
    type_name, sep, message = text.partition(": ")
    if not sep or not type_name.replace(".", "").replace("_", "").isalnum():
        type_name, message = "unknown", text
    return StepError(type_name, message, None, 0, False, purpose)


def failure_record(step: str, error: StepError) -> dict[str, Any]:
    """The run's failure summary when ``step`` failed for good with ``error`` (stored as JSON)."""
    kind = "definitely (nothing to undo)" if error.definite else "indeterminately (undone)"
    return {
        "step": step,
        "error": error.to_dict(),
        "reason": f"step {step!r} failed {kind} on attempt {error.attempt}: {error.headline()}",
    }


def cancel_record(reason: str) -> dict[str, Any]:
    """The run's failure summary when a client cancelled it."""
    return {"step": None, "error": None, "reason": f"cancelled: {reason or 'no reason given'}"}


def parent_rollback_record(parent_run_id: str) -> dict[str, Any]:
    """The failure summary of a completed child run undone because its parent rolled back."""
    return {
        "step": None,
        "error": None,
        "reason": f"undone because its parent run {parent_run_id!r} rolled back",
    }


def read_failure(
    text: str | None, compensation_failures: Mapping[str, StepError]
) -> RunFailure | None:
    """The stored failure summary with the compensations that failed; None when there is none."""
    data = json.loads(text) if text else None
    if not isinstance(data, dict):
        if not compensation_failures:
            return None
        data = {"reason": "compensations failed"}
    error = data.get("error")
    reason = str(data.get("reason", ""))
    if compensation_failures:
        failed = ", ".join(
            f"{name!r} ({e.type}{f' [{e.code}]' if e.code else ''})"
            for name, e in compensation_failures.items()
        )
        reason += f"; compensation failed for good for {failed}"
    return RunFailure(
        None if data.get("step") is None else str(data["step"]),
        StepError.from_dict(error) if isinstance(error, dict) else None,
        reason,
        dict(compensation_failures),
    )

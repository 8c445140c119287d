"""Which workflow definitions this process knows, by (name, version)."""

from __future__ import annotations

import importlib

from ._definition import Workflow
from ._errors import RegistryError


class WorkflowRegistry:
    """Workflow definitions by (name, version); a run always finishes on the version it began."""

    def __init__(self) -> None:
        self._workflows: dict[tuple[str, int], Workflow] = {}

    def register(self, workflow: Workflow) -> Workflow:
        """Add ``workflow``; registering the same definition twice is harmless."""
        existing = self._workflows.get(workflow.key)
        if (
            existing is not None
            and existing is not workflow
            and existing.fingerprint() != workflow.fingerprint()
        ):
            raise RegistryError(
                f"Workflow {workflow.name!r} v{workflow.version} is already registered with a "
                "different definition. Give the new definition a new version number."
            )
        self._workflows[workflow.key] = workflow
        for child in workflow.subworkflows():
            self.register(child)
        return workflow

    def get(self, name: str, version: int | None = None) -> Workflow:
        """The workflow ``name`` at ``version`` (the latest when ``version`` is None)."""
        if version is None:
            versions = [v for (n, v) in self._workflows if n == name]
            if versions:
                return self._workflows[(name, max(versions))]
        elif (name, version) in self._workflows:
            return self._workflows[(name, version)]
        known = ", ".join(f"{n!r} v{v}" for n, v in sorted(self._workflows)) or "none"
        wanted = f"{name!r}" + ("" if version is None else f" v{version}")
        raise RegistryError(
            f"Workflow {wanted} is not registered in this process (registered: {known}). "
            "Register it first, or pass --workflow module:attribute to the worker."
        )

    def names(self) -> list[str]:
        """The names of every registered workflow."""
        return sorted({name for name, _ in self._workflows})

    def __contains__(self, key: object) -> bool:
        return key in self._workflows


def import_workflow(spec: str) -> Workflow:
    """The Workflow that ``spec`` (``module:attribute``) names; a factory for one works too."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise RegistryError(
            f"Workflow spec {spec!r} is not of the form 'module:attribute', "
            "e.g. 'examples.order_saga:order_saga'."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise RegistryError(
            f"Cannot import module {module_name!r} for workflow spec {spec!r}: {error}. "
            "Check the name and that its folder is on PYTHONPATH."
        ) from None
    try:
        found = getattr(module, attribute)
    except AttributeError:
        raise RegistryError(
            f"Module {module_name!r} has no attribute {attribute!r} (workflow spec {spec!r})."
        ) from None
    if callable(found) and not isinstance(found, Workflow):
        found = found()
    if not isinstance(found, Workflow):
        raise RegistryError(
            f"Workflow spec {spec!r} names a {type(found).__name__}, not a Workflow."
        )
    return found

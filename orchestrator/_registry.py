"""Which workflow definitions this process knows, by (name, version)."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

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
        if workflow.canary is not None:  # a submit may send a run to either version
            self.register(workflow.canary.stable)
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

    def workflows(self) -> list[Workflow]:
        """Every registered workflow (each name and version)."""
        return list(self._workflows.values())

    def names(self) -> list[str]:
        """The names of every registered workflow."""
        return sorted({name for name, _ in self._workflows})

    def __contains__(self, key: object) -> bool:
        return key in self._workflows


_MODULE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
_ATTRIBUTE = re.compile(r"^[A-Za-z_]\w*$")


class WorkflowFactory:
    """A function that builds a :class:`Workflow`, marked so that ``module:attr`` may call it.

    ``import_workflow`` never calls what it finds unless it is one of these: a spec that names
    ``os:abort`` or ``sys:exit`` is refused by name instead of being run. Make one with the
    :func:`workflow_factory` decorator; the function takes no argument and returns a Workflow.
    """

    def __init__(self, build: Callable[[], Workflow]) -> None:
        self.build = build
        self.__doc__ = build.__doc__
        self.__name__ = getattr(build, "__name__", type(self).__name__)

    def __call__(self) -> Workflow:
        return self.build()


def workflow_factory(build: Callable[[], Workflow]) -> WorkflowFactory:
    """Mark ``build`` (no arguments, returns a Workflow) as a factory ``module:attr`` may name."""
    return WorkflowFactory(build)


def import_workflow(spec: str) -> Workflow:
    """The Workflow that ``spec`` (``module:attribute``) names, or that a
    :class:`WorkflowFactory` it names builds; anything else is refused before it is called."""
    module_name, sep, attribute = str(spec).partition(":")
    if not sep or not _MODULE.match(module_name) or not _ATTRIBUTE.match(attribute):
        raise RegistryError(
            f"Workflow spec {spec!r} is not of the form 'module:attribute' (a dotted module "
            "name, a colon, a Python name), e.g. 'examples.order_saga:order_saga'."
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise RegistryError(
            f"Cannot import module {module_name!r} for workflow spec {spec!r}: {error}. "
            "Check the name and that its folder is on PYTHONPATH."
        ) from None
    except Exception as error:  # the module's own code failed while it was imported
        raise RegistryError(
            f"Importing module {module_name!r} for workflow spec {spec!r} failed: "
            f"{type(error).__name__}: {error}. Fix the module."
        ) from None
    found = getattr(module, attribute, _MISSING)
    if found is _MISSING:
        raise RegistryError(
            f"Module {module_name!r} has no attribute {attribute!r} (workflow spec {spec!r})."
        )
    if isinstance(found, WorkflowFactory):
        try:
            found = found()
        except Exception as error:
            raise RegistryError(
                f"Workflow factory {spec!r} failed: {type(error).__name__}: {error}."
            ) from None
        if not isinstance(found, Workflow):
            raise RegistryError(
                f"Workflow factory {spec!r} returned a {type(found).__name__}, not a Workflow."
            )
        return found
    if not isinstance(found, Workflow):
        raise RegistryError(
            f"Workflow spec {spec!r} names a {type(found).__name__}, not a Workflow; it is not "
            "called. Name a Workflow, or a function decorated with @workflow_factory."
        )
    return found


_MISSING = object()

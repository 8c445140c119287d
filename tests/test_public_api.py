"""Each package's public surface is its curated, sorted ``__all__``, and every name exists."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = [
    "orchestrator",
    "faults",
    "scenarios",
    "scenarios.checking",
    "scenarios.effects",
    "scenarios.files",
    "scenarios.generation",
    "scenarios.real",
    "scenarios.simulation",
    "loadtests",
    "reports",
    "chaosflow",
    "intake",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name: str) -> None:
    package = importlib.import_module(name)
    exported = package.__all__
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported)
    for attribute in exported:
        assert hasattr(package, attribute), f"{name}.__all__ names {attribute!r}, which is missing"


@pytest.mark.parametrize("name", PACKAGES)
def test_public_names_are_documented(name: str) -> None:
    package = importlib.import_module(name)
    assert package.__doc__, f"{name} has no module docstring"
    for attribute in package.__all__:
        value = getattr(package, attribute)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert value.__doc__, f"{name}.{attribute} has no docstring"


def test_importing_the_packages_does_not_import_locust() -> None:
    import subprocess
    import sys

    code = (
        "import sys, orchestrator, faults, scenarios, loadtests, reports, chaosflow.cli, "
        "chaosflow.pytest_plugin; print('locust' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr

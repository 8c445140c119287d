"""Shared test set-up: Hypothesis profiles, and the repository root on sys.path for examples."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from scenarios import register_profiles  # noqa: E402 (after the root is on the path)

# The library's profiles (ci, nightly), as users get them; the project's default is smaller.
settings.register_profile("default", max_examples=50)
register_profiles()
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)

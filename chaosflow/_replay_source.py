"""Which scenario file a replay token may name: one under the folder it is replayed from.

A token is text anyone can paste; the file it names is loaded and its workflow imported. So the
file must exist under the current folder (``chaosflow replay`` is run from where ``chaosflow
run`` was, as the failure output says), or be given with ``--scenario FILE``, whose name must
match the token's; anything else is refused, naming the path and the way out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

YAML_SUFFIXES = (".yaml", ".yml")


class ReplaySourceError(Exception):
    """The token's scenario file is outside the folder, missing, or not the one given."""


def replay_source(token: dict[str, Any], scenario: str | None, cwd: Path | None = None) -> str:
    """The scenario file to replay ``token`` from (``scenario`` when given), checked."""
    here = (cwd or Path.cwd()).resolve()
    named = str(token["source"])
    if scenario is not None:
        chosen = Path(scenario)
        if chosen.name != Path(named).name:
            raise ReplaySourceError(
                f"--scenario={scenario!r} is not the file the token names ({named!r}); pass "
                "that file (a copy under another folder is fine, under the same name)."
            )
        return str(chosen)
    path = Path(named)
    resolved = (here / path).resolve() if not path.is_absolute() else path.resolve()
    if not resolved.is_relative_to(here):
        raise ReplaySourceError(
            f"The token names the scenario file {named!r}, which is not under the folder it is "
            f"replayed from ({str(here)!r}); a token may only name a file under it. Run the "
            "replay from the folder `chaosflow run` ran in, or pass --scenario FILE."
        )
    if resolved.suffix not in YAML_SUFFIXES:
        raise ReplaySourceError(
            f"The token names {named!r}, which is not a scenario file (.yaml or .yml)."
        )
    if not resolved.is_file():
        raise ReplaySourceError(
            f"The token names the scenario file {named!r}, which does not exist under "
            f"{str(here)!r}. Run the replay from the folder `chaosflow run` ran in, or pass "
            "--scenario FILE."
        )
    return named


def replay_command(token: str, source: str | None, cwd: Path | None = None) -> str:
    """The command that replays ``token`` from the current folder: with ``--scenario`` when its
    file is not under it (a run of ``/elsewhere/x.yaml``), so the printed command works as is."""
    command = f"chaosflow replay {token}"
    if source is None:
        return command
    here = (cwd or Path.cwd()).resolve()
    if not Path(source).resolve().is_relative_to(here):
        command += f" --scenario {source}"
    return command

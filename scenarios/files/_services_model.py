"""The ``services:`` key of a scenario file, in a model of its own.

An entry is a bundled example service's name (with ``ignore_keys``), or a user's own service:
a command, a health URL, environment, a folder, an effect probe (``docs/faults.md``, the
README's real mode). The entry's fields are checked by the real-mode settings, which know them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints

MAX_SERVICES = 32

ServiceName = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
]


# A list of names (or of entries with a name), or a mapping of name to its entry (null: the
# defaults). An entry's own fields (command, health, env, cwd, start_timeout, probe,
# ignore_keys) are validated by ``scenarios.real.parse_services``, which names each field.
ServicesField = (
    Annotated[list[ServiceName | dict[str, Any]], Field(min_length=1, max_length=MAX_SERVICES)]
    | Annotated[
        dict[ServiceName, dict[str, Any] | None], Field(min_length=1, max_length=MAX_SERVICES)
    ]
)

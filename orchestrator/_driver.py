"""The hot statements as driver SQL: compiled once per dialect, then handed to the driver.

Executing a prebuilt SQLAlchemy Core statement still costs far more than the database takes
to run it (a cache key, parameter processing, a result wrapper per call: about 90 us for a
one-row INSERT on this kind of machine, against 8 us for the same text given to the driver).
The statements of the step path bind only plain values and need no Python-side defaults, so
they are compiled here once, for the engine's dialect and for each set of SET columns, and run
with ``Connection.exec_driver_sql``: still inside the transaction, still seen by every
execution event (``do_execute``, where store faults strike), rows still readable by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, CursorResult, Update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement

# The SQL text, the order of its positional binds (None: named), the values it binds itself.
_Entry = tuple[str, tuple[str, ...] | None, dict[str, Any]]


class DriverStatements:
    """Compiles statements for one dialect on first use and runs them as driver SQL."""

    def __init__(self, dialect: Dialect) -> None:
        self._dialect = dialect
        self._compiled: dict[tuple[int, tuple[str, ...]], _Entry] = {}
        self._keep: list[ClauseElement] = []  # statements keyed by id() must stay alive

    def execute(
        self, conn: Connection, statement: ClauseElement, params: Mapping[str, Any]
    ) -> CursorResult[Any]:
        """Run ``statement`` with ``params`` (``b_*`` are conditions; other keys of an UPDATE
        are the columns it sets)."""
        sets: tuple[str, ...] = ()
        if isinstance(statement, Update):
            sets = tuple(sorted(k for k in params if not k.startswith("b_")))
        key = (id(statement), sets)
        entry = self._compiled.get(key)
        if entry is None:
            compiled = statement.compile(
                dialect=self._dialect, column_keys=list(sets) if sets else None
            )
            # A SQL compiler (what compiling a statement gives) says how its binds are ordered.
            positional = getattr(compiled, "positional", False)
            order = tuple(getattr(compiled, "positiontup", None) or ()) if positional else None
            # Values written into the statement itself (``attempt + 1``) are binds too.
            fixed = {
                name: bind.value
                for name, bind in getattr(compiled, "binds", {}).items()
                if not bind.required
            }
            entry = (str(compiled), order, fixed)
            self._compiled[key] = entry
            self._keep.append(statement)
        sql, order, fixed = entry
        values = {**fixed, **params} if fixed else params
        if order is None:
            return conn.exec_driver_sql(sql, dict(values))
        return conn.exec_driver_sql(sql, tuple(values[name] for name in order))

"""Every error Broadsheet raises on purpose, in one small hierarchy.

Each carries what a user needs to act on it (the file, field, target or cell at fault)
and renders as one line. The CLI maps ``exit_status`` onto the process exit code:
2 for bad usage, configuration or input; 1 for a run where some targets failed.
"""

from __future__ import annotations

from pathlib import Path

EXCERPT = 40


def excerpt(value: object, limit: int = EXCERPT) -> str:
    """How a message quotes a value it was given: ``repr`` of at most ``limit`` characters,
    and ``…`` when cut, so a huge value is never echoed whole."""
    text = str(value)
    return f"{text[:limit]!r}…" if len(text) > limit else repr(text)


class BroadsheetError(Exception):
    """Base of every deliberate Broadsheet error."""

    exit_status = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(BroadsheetError):
    """A declaration, parameter file or setting is missing or invalid."""

    def __init__(self, message: str, *, file: str | Path | None = None, field: str | None = None):
        self.file = str(file) if file is not None else None
        self.field = field
        self.detail = message  # without the file and field, for re-raising with more context
        where = ": ".join(p for p in (self.file, self.field) if p)
        super().__init__(f"{where}: {message}" if where else message)


class InputError(BroadsheetError):
    """A command-line value or argument is unusable (a future as_of, an unknown report...)."""


class NothingToDo(BroadsheetError):
    """A run that should not happen (the report is disabled): said in one line, exit 0."""

    exit_status = 0


class SnapshotError(BroadsheetError):
    """A snapshot directory is missing, corrupt, or does not have the expected schema."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        table: str | None = None,
        column: str | None = None,
    ):
        self.path = str(path) if path is not None else None
        self.table = table
        self.column = column
        where = ": ".join(p for p in (self.path, self.table, self.column) if p)
        super().__init__(f"{where}: {message}" if where else message)


class SourceError(BroadsheetError):
    """A data source (Salesforce) could not be read; the message says how to fix it."""


class TargetError(BroadsheetError):
    """One target of a run failed. The run goes on with the others and exits 1."""

    exit_status = 1

    def __init__(
        self,
        message: str,
        *,
        target: str,
        cell: int | None = None,
        ename: str | None = None,
        evalue: str | None = None,
        notebook: str | Path | None = None,
    ):
        self.target = target
        self.cell = cell
        self.ename = ename
        self.evalue = evalue
        self.notebook = str(notebook) if notebook is not None else None
        where = f"target {target}" + (f", cell {cell}" if cell is not None else "")
        super().__init__(f"{where}: {message}")


class DeliveryError(BroadsheetError):
    """A message could not be handed to its transport."""

    exit_status = 1


class UnknownNameError(BroadsheetError, KeyError):
    """A registry lookup for a name that is not registered; lists the known ones."""

    def __init__(self, kind: str, name: str, known: list[str]):
        self.kind = kind
        self.name = name
        self.known = sorted(known)
        super().__init__(
            f"unknown {kind} {excerpt(name)}; did you mean one of: "
            f"{', '.join(self.known) or '(none)'}"
        )

    def __str__(self) -> str:  # KeyError would repr() the message otherwise
        return self.message

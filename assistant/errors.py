"""The failures the CLI reports as one line (`error: ...`, exit code 1): `DispatchQAError` and its kinds.

Every module raises these directly (none imports the CLI back); `cli.main` catches the base class.
"""

from __future__ import annotations

from index.errors import DispatchQAError

__all__ = ["CommandError", "DispatchQAError"]


class CommandError(DispatchQAError):
    """A command cannot do what it was asked (bad option value, unknown document, empty index)."""

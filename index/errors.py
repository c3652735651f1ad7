"""The base of every failure a user can act on: `dispatch-qa` prints it as one line, never a traceback.

It lives in index/ because index/'s own errors derive from it and index/ cannot import assistant/
(imports flow ui -> assistant -> index); `assistant.errors` re-exports it.
"""

from __future__ import annotations


class DispatchQAError(Exception):
    """A failure whose message says what went wrong and what to do about it."""

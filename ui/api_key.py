"""The bearer-token door shared by the OpenAI-compatible API (/v1) and the MCP server (/mcp).

One rule for both: `api_key` is required whenever `host` is not loopback (`api_key_problem`, checked
before serving), and a request must carry `Authorization: Bearer <api_key>` when a key is set.
"""

from __future__ import annotations

import hmac

from assistant.settings import Settings
from ui.guard import is_loopback


def api_key_problem(settings: Settings) -> str | None:
    """Why the API cannot be served with these settings (the `auth` rule's twin), else None."""
    if not is_loopback(settings.host) and not settings.api_key:
        return (f"refusing to serve the OpenAI-compatible API on {settings.host}, a non-loopback address, "
                "without a key: set api_key (--api-key KEY, DISPATCH_QA_API_KEY or `api_key` in "
                "dispatch-qa.toml), or keep host=127.0.0.1")
    return None


class BearerKey:
    """`refusal(authorization_header)` -> why the request is refused (401), or None to let it in."""

    def __init__(self, settings: Settings) -> None:
        self.key = settings.api_key.encode("utf-8")
        # With a login on the chat and no key, the API would be a way around the login: closed.
        self.closed = not settings.api_key and bool(settings.auth)

    def refusal(self, authorization: str) -> str | None:
        if self.closed:
            return "The web chat has a login (auth): set api_key to use the API."
        if not self.key:
            return None
        scheme, _, token = authorization.partition(" ")
        # compare_digest: the time taken does not tell how much of the key was right.
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip().encode("utf-8"), self.key):
            return "Incorrect or missing API key: send 'Authorization: Bearer <api_key>'."
        return None

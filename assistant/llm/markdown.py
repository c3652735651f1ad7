"""Model text made safe to render as Markdown: images, foreign links and raw HTML never reach the reader.

Pure (no model, no I/O): `sanitize_markdown` for a whole text, `MarkdownStream` for the same result
released delta by delta while the model writes.
"""

from __future__ import annotations

import re
from collections.abc import Callable

URL_RE = re.compile(r"\b(?:https?|ftp)://[^\s<>\"'()\[\]`]+|\bwww\.[^\s<>\"'()\[\]`]+", re.IGNORECASE)
_IMAGE_RE = re.compile(r"!\[([^\]\n]*)\]\(([^)\n]*)\)")
_LINK_RE = re.compile(r"\[([^\]\n]*)\]\(\s*<?([^)\s>]*)>?(?:\s+[\"'][^\"'\n]*[\"'])?\s*\)")
_REF_DEF_RE = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*\S+.*$", re.MULTILINE)
_HTML_RE = re.compile(r"<(?:/?[a-zA-Z][^<>\n]*|!--[^<>]*--)>")
_AUTOLINK_RE = re.compile(r"<((?:https?|ftp|mailto):[^<>\s]+)>", re.IGNORECASE)


def urls_in(text: str) -> set[str]:
    return {u.rstrip(".,;:!?") for u in URL_RE.findall(text)}


def sanitize_markdown(text: str, allowed_urls: frozenset[str] | set[str] = frozenset()) -> str:
    """Model text safe to render: images and foreign links become their text; raw HTML goes.

    Links whose target appears in the dispatches themselves are kept: they are the dispatches' own.
    """
    def allowed(url: str) -> bool:
        return url.rstrip(".,;:!?") in allowed_urls

    text = _IMAGE_RE.sub(lambda m: m.group(1), text)
    text = _REF_DEF_RE.sub("", text)
    text = _LINK_RE.sub(lambda m: m.group(0) if allowed(m.group(2)) else m.group(1), text)
    text = _AUTOLINK_RE.sub(lambda m: m.group(0) if allowed(m.group(1)) else m.group(1), text)
    text = _HTML_RE.sub("", text)
    return _defuse_bare_urls(text, allowed)


def _defuse_bare_urls(text: str, allowed: Callable[[str], bool]) -> str:
    # Renderers autolink bare URLs; a code span shows the address without making it a link.
    out, last = [], 0
    for m in URL_RE.finditer(text):
        url = m.group(0).rstrip(".,;:!?")
        start, end = m.start(), m.start() + len(url)
        inside_link = text[max(0, start - 2):start] == "](" or text[max(0, start - 1):start] == "<"
        if allowed(url) or inside_link or text[max(0, start - 1):start] == "`":
            continue
        out.append(text[last:start])
        out.append(f"`{url}`")
        last = end
    out.append(text[last:])
    return "".join(out)


class MarkdownStream:
    """Sanitises a stream of deltas: text is released only once no construct in it can still change."""

    _LOOKAHEAD = 400  # an opener unresolved for this long is plain text

    def __init__(self, allowed_urls: frozenset[str] | set[str] = frozenset()) -> None:
        self.allowed_urls = allowed_urls
        self.pending = ""

    def feed(self, delta: str) -> str:
        self.pending += delta
        cut = self._stable_prefix(self.pending)
        if cut <= 0:
            return ""
        ready, self.pending = self.pending[:cut], self.pending[cut:]
        return sanitize_markdown(ready, self.allowed_urls)

    def flush(self) -> str:
        ready, self.pending = self.pending, ""
        return sanitize_markdown(ready, self.allowed_urls)

    def _stable_prefix(self, text: str) -> int:
        # Only release whole words (a URL is judged once complete) and whole constructs.
        cut = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t")) + 1
        for m in re.finditer(r"!?\[|<", text[:cut]):
            end = self._construct_end(text, m.start())
            if end is None or end > cut:
                return m.start()
        return cut

    def _construct_end(self, text: str, at: int) -> int | None:
        """Where the link/image/tag starting at `at` ends; `at` if it is plain text; None while undecided."""
        rest = text[at:]
        if len(rest) > self._LOOKAHEAD:
            return at
        if rest.startswith("<"):
            close = rest.find(">")
            if close >= 0:
                return at + close + 1
            return at if "\n" in rest else None
        bracket = rest.index("[")
        close = re.match(r"\[[^\]\n]*\]", rest[bracket:])
        if close is None:
            return at if "\n" in rest[bracket:] else None
        after = bracket + close.end()
        if after >= len(rest):
            return None  # "(" or ":" may follow
        if rest[after] == "(":
            paren = rest.find(")", after)
            if paren >= 0:
                return at + paren + 1
            return at if "\n" in rest[after:] else None
        if rest[after] == ":":
            newline = rest.find("\n", after)
            return at + newline if newline >= 0 else None
        return at

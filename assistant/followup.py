"""Follow-ups only when the question needs the conversation.

A question that names its own subject ("Qui est le porte-parole du Kremlin ?") is answered as
in a fresh chat; an elliptic one ("Et qu'en dit le Kremlin ?", "Et lui ?", "Pourquoi ?",
"Qu'a-t-elle dit ?") borrows the previous question's words.
"""

from __future__ import annotations

import re

from index.french import fold_accents

_WORD_RE = re.compile(r"[\wÀ-ÿ]+(?:['’-][\wÀ-ÿ]+)*")
_OPENERS = {"et", "mais", "and", "but", "puis", "alors", "aussi"}
_PRONOUNS = {"il", "elle", "ils", "elles", "lui", "eux", "leur", "leurs", "celui-ci", "celle-ci", "ceux-ci",
             "he", "she", "they", "him", "her", "them", "his", "hers", "their"}
_IMPERSONAL_RE = re.compile(r"\b(?:faut-il|y a-t-il|s['’]agit-il|reste-t-il|semble-t-il|vaut-il|fera-t-il|fait-il)\b")
_BACK_RE = re.compile(r"\b(?:ce dernier|cette derni[eè]re|ces derni(?:er|[eè]re)s|[àa] ce sujet|l[àa]-dessus)\b")
_FUNCTION = set(("le la les l un une des du de d au aux a à et ou en dans par pour sur avec que qu qui quoi "
                 "quel quelle quels quelles comment pourquoi combien quand où ou est sont ce c ça cela dit "
                 "what who why when where how which is are the a an of about and it this that").split())


def _words(question: str) -> list[str]:
    return [w.lower() for w in _WORD_RE.findall(question)]


def is_elliptic(question: str) -> bool:
    """Whether the question leaves its subject to the conversation."""
    words = _words(question)
    if not words:
        return False
    if words[0] in _OPENERS:
        return True
    content = [w for w in words if fold_accents(w) not in _FUNCTION and w not in _PRONOUNS]
    if len(content) <= 1 and not any(w[:1].isupper() for w in _WORD_RE.findall(question)[1:]):
        return True
    folded = question.lower()
    if _BACK_RE.search(folded):
        return True
    if _refers_back(words) and not _IMPERSONAL_RE.search(folded):
        names = [w for w in _WORD_RE.findall(question)[1:] if w[:1].isupper()]
        return not names
    return False


def _refers_back(words: list[str]) -> bool:
    """A pronoun subject: standalone ("Et lui"), or inverted with no noun before its verb
    ("Qu'a-t-elle dit" refers back; "Quelle ville les forces ont-elles quittée" does not)."""
    for i, w in enumerate(words):
        if w in _PRONOUNS:
            return True
        parts = [p for p in re.split(r"-t-|-", w) if p]
        if len(parts) > 1 and parts[-1] in _PRONOUNS:
            before = [p for x in words[:i] for p in re.split(r"['’]", x) if p]
            return all(fold_accents(p) in _FUNCTION for p in before)
    return False


def follow_up_of(question: str, history: list[str]) -> str | None:
    """The earlier question this one continues, or None when it stands on its own."""
    if not history or not is_elliptic(question):
        return None
    return history[-1]

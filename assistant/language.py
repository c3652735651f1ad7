"""The language a question is asked in: French or English, from its function words.

Decides the language of the app's own messages and how much the fusion leans on the
multilingual model (the keyword index is French).
"""

from __future__ import annotations

import re

__all__ = ["question_language"]

_EN_WORDS = {"the", "what", "who", "when", "where", "which", "how", "why", "did", "does", "is", "are", "was",
             "were", "of", "in", "to", "and", "about", "say", "said"}
_FR_WORDS = {"le", "la", "les", "de", "des", "du", "qui", "que", "quoi", "quel", "quelle", "quels", "quelles",
             "est", "a", "ont", "pour", "sur", "dans", "comment", "pourquoi", "quand", "où", "combien", "et",
             "un", "une", "au", "aux", "en"}


def question_language(question: str) -> str:
    """"en" or "fr": the language the app answers a question in (messages, abstention)."""
    return "en" if _looks_english(question) else "fr"


def _looks_english(text: str) -> bool:
    words = [w.lower() for w in re.findall(r"[\wÀ-ÿ']+", text)]
    en = sum(w in _EN_WORDS for w in words)
    fr = sum(w in _FR_WORDS for w in words)
    return en > fr

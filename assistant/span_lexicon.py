"""The words of quotes and questions as the highlighter and its span features see them: dates,
numbers, names, places, stop words, and a crude five-letter stem that ignores elision.
"""

from __future__ import annotations

import re

from index.french import fold_accents

MONTH = ("janvier|février|fevrier|mars|avril|mai|juin|juillet|août|aout|septembre|octobre|novembre|décembre|"
          "decembre")
DATE_RE = re.compile(
    r"\b(?:(?:le\s+)?(?:1er|\d{1,2})\s+)?(?:" + MONTH + r")(?:\s+(?:\d{3,4}))?\b"
    r"|\b(?:en\s+)?\d{3,4}\b(?:\s*[-–]\s*\d{2,4}\b)?"
    r"|\b[XVI]+e\s+siècle\b|\b[XVI]+e\b", re.IGNORECASE)
NUMWORD = (r"un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|treize|quatorze|quinze|seize|"
            r"vingt|trente|quarante|cinquante|soixante|cent|cents|mille|dizaines?|centaines?|milliers?")
NUMBER_RE = re.compile(
    r"(?:\b\d[\d\u00a0 ]*(?:[.,]\d+)?|\b(?:" + NUMWORD + r")(?:[\s-](?:" + NUMWORD + r"))*\b)"
    r"(?:\s*%|\s*(?:millions?|milliards?|mille|km|m|kg|€|\$|euros?|dollars?)\b)?"
    r"(?:\s+(?:d['’]|de\s+)?(?!(?:et|ou|à|a|en|le|la|les|du|des|au|aux|par|pour|sur|dans)\b)[a-zà-ÿ]{3,}\b)?",
    re.IGNORECASE)
PARTICLE = r"(?:\s+(?:de|du|des|d['’]|von|van|la|le|di|da|del|y|ben|al|et)\s*)"
NAME_RE = re.compile(r"[A-ZÀ-Ý][\wÀ-ÿ'’.-]*(?:(?:\s+|" + PARTICLE + r")[A-ZÀ-Ý][\wÀ-ÿ'’.-]*)*")
PLACE_LEAD_RE = re.compile(r"\b(?:à|au|aux|en|dans|vers|depuis|près de|de)\s+(?:la\s+|le\s+|l['’])?$", re.IGNORECASE)
WORD_RE = re.compile(r"[\wÀ-ÿ'’-]+")
STOP = set(("le la les l un une des du de d au aux a à et ou en dans par pour sur avec sans que qui quoi dont "
             "est sont été être a ont avait fut il elle ils elles on se sa son ses leur leurs ce cette ces "
             "quel quelle quels quelles comment pourquoi combien quand ou où y ne pas plus").split())
CLAUSE_RE = re.compile(r"[^,;:()«»\"“”]+")


def fold_word(word: str) -> str:
    return fold_accents(word.lower().strip("'’-"))


def stem_word(word: str) -> str:
    w = fold_word(word)
    w = re.sub(r"^(l|d|qu|n|s|j|c)['’]", "", w)
    return w[:5]


def question_stems(question: str) -> set[str]:
    return {stem_word(w) for w in WORD_RE.findall(question) if fold_word(w) not in STOP and len(w) > 1}

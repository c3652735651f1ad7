"""Sources that disagree: two sentences that answer, where one says what the other denies, or gives
another figure for the same thing ("cinq régions" / "quatre régions").

The answer then quotes each side with its speaker instead of picking one: "Selon Donald Trump :
« … » [1] L'armée de Kiev affirme au contraire : « … » [2]". The quotes stay exact; only the words
around them are added, in the question's language. Pure: strings in, indices and text out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

from assistant.attribution import same_speaker
from index.french import analyze, fold_accents


@dataclass
class Claim:
    """A sentence that may answer, and who says it (None: the dispatch in its own voice); where it
    lies (document, offsets) so that overlapping sentences are not set against each other.
    `find_speaker`, when given, names the speaker only when a conflict asks for it (it costs)."""
    text: str
    speaker: str | None = None
    doc_id: str = ""
    start: int = 0
    end: int = 0
    find_speaker: Callable[[], str | None] | None = field(default=None, repr=False)

    def who(self) -> str | None:
        if self.find_speaker is not None:
            self.speaker, self.find_speaker = self.find_speaker(), None
        return self.speaker


# Words that deny what follows them within a few words ("pas de menace d'encerclement").
_NEGATIONS = {"pas", "aucun", "aucune", "aucunement", "jamais", "ni", "non", "nullement", "guere", "sans"}
# Verbs and words that deny a claim wherever they stand in the sentence.
_DENIALS = re.compile(r"\b(?:dement\w*|nie|nient|niait|nié|conteste\w*|contest[ée]\w*|refut\w*|faux|fausse|"
                      r"fausses|infonde\w*|mensonge\w*|deny|denies|denied)\b")
_NEGATION_WINDOW = 4
_NUMBER_WORDS = {"deux": 2, "trois": 3, "quatre": 4, "cinq": 5, "six": 6, "sept": 7, "huit": 8, "neuf": 9,
                 "dix": 10, "onze": 11, "douze": 12, "quinze": 15, "vingt": 20, "trente": 30, "cent": 100,
                 "mille": 1000}
_FIGURE = re.compile(r"\b(\d+(?:[.,]\d+)?|" + "|".join(_NUMBER_WORDS) + r")\s+(?:de\s+|d')?([a-z]{3,})")


@lru_cache(maxsize=4096)
def _tokens(text: str) -> tuple[tuple[str, bool, str | None], ...]:
    """(folded word, written in lower case, stem) for each word of the text."""
    out = []
    for m in re.finditer(r"\w+", text):
        word = fold_accents(m.group(0).lower())
        stems = analyze(word)
        out.append((word, m.group(0)[:1].islower(), stems[0] if stems else None))
    return tuple(out)


def _stance(text: str, term: str) -> bool | None:
    """True when the text says `term` (a stem), False when it denies it, None when it does not use it
    as a common word (a name such as "Koursk" is the place of the claim, not the claim)."""
    tokens = _tokens(text)
    hits = [i for i, (_, lower, stem) in enumerate(tokens) if lower and stem == term]
    if not hits:
        return None
    if _DENIALS.search(fold_accents(text.lower())):
        return False
    # Said when used once without a negation just before it ("complètement encerclés", even if
    # "sans préciser le lieu de cet encerclement" follows).
    return any(not any(t[0] in _NEGATIONS for t in tokens[max(0, i - _NEGATION_WINDOW):i]) for i in hits)


@lru_cache(maxsize=4096)
def _figures(text: str) -> dict[str, set[float]]:
    """Stem of the counted noun -> the values the text gives it ("cinq régions" -> {"region": {5}})."""
    out: dict[str, set[float]] = {}
    for m in _FIGURE.finditer(fold_accents(text.lower())):
        raw, noun = m.group(1), m.group(2)
        value = float(_NUMBER_WORDS[raw]) if raw in _NUMBER_WORDS else float(raw.replace(",", "."))
        stems = analyze(noun)
        if stems:
            out.setdefault(stems[0], set()).add(value)
    return out


def conflict(a: str, b: str, terms: set[str]) -> str | None:
    """"denial" when `a` says one of `terms` and `b` denies it, "denied" the other way round,
    "figures" when they count one of `terms` differently, else None."""
    for term in sorted(terms):
        sa, sb = _stance(a, term), _stance(b, term)
        if sa is not None and sb is not None and sa != sb:
            return "denial" if sa else "denied"
    fa, fb = _figures(a), _figures(b)
    for noun in sorted(terms & fa.keys() & fb.keys()):
        if fa[noun].isdisjoint(fb[noun]):
            return "figures"
    return None


def _same_speaker(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return a is b
    return same_speaker(a, b)


def sides(question_terms: list[str], claims: list[Claim], chosen: int) -> tuple[int, int, str] | None:
    """(i, j, kind): the first of the `chosen` claims (the answer's, in order) that another claim
    (by rank) contradicts about the question's terms, each named by a different speaker (a side
    in the dispatch's own voice was a false conflict in the PIAF and English-news answers read: a
    named speaker against the narration around them, replacing a good answer); for a denial, i is the claim and j its denial. An English question's terms rarely are
    the dispatch's words, so there only shared ones count (names, figures: "regions", "Ukrainian")."""
    terms = set(question_terms)
    for i in range(min(chosen, len(claims))):
        a = claims[i]
        for j, b in enumerate(claims):
            kind = None if j == i else conflict(a.text, b.text, terms)
            if not kind or a.who() is None or b.who() is None or _same_speaker(a.who(), b.who()):
                continue
            if kind == "denied":  # what is said first, then its denial
                return j, i, "denial"
            if kind:
                return i, j, kind
    return None


def _who(speaker: str | None, language: str) -> str:
    if speaker is None:
        return "the dispatch" if language == "en" else "la dépêche"
    if re.match(r"(?:Le|La|Les)\s|L['’][a-zà-ÿ]", speaker):
        return speaker[:1].lower() + speaker[1:]  # "Selon le président américain"
    return speaker


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def compose_text(language: str, kind: str, first: tuple[str | None, str, int], second: tuple[str | None, str, int]) -> str:
    """The answer's text: each side's exact quote, its speaker and its marker."""
    (sa, qa, ma), (sb, qb, mb) = first, second
    if language == "en":
        verb = "gives another figure" if kind == "figures" else "says otherwise"
        return f"According to {_who(sa, 'en')}: “{qa}” [{ma}] {_capitalised(_who(sb, 'en'))} {verb}: “{qb}” [{mb}]"
    verb = "avance un autre chiffre" if kind == "figures" else "affirme au contraire"
    return f"Selon {_who(sa, 'fr')} : « {qa} » [{ma}] {_capitalised(_who(sb, 'fr'))} {verb} : « {qb} » [{mb}]"


Item = TypeVar("Item")
# Sentences beyond the answer's own that may contradict it: the best few by score.
POOL = 8


def disagreeing_sides(question_terms: list[str], language: str, chosen: Sequence[Item], ranked: Sequence[Item],
                      claim_of: Callable[[Item], Claim]) -> tuple[Item, Item, str] | None:
    """(the answer's sentence, the one that contradicts it, kind), or None. `chosen`: the answer's
    sentences in order; `ranked`: every candidate sentence, best first."""
    mine = [claim_of(c) for c in chosen]

    def overlaps(claim: Claim) -> bool:
        return any(k.doc_id == claim.doc_id and k.start < claim.end and claim.start < k.end for k in mine)

    others = [(item, claim) for item, claim in ((c, claim_of(c)) for c in ranked[:POOL * 2]) if not overlaps(claim)]
    others = others[:POOL]
    items = [*chosen, *(item for item, _ in others)]
    found = sides(question_terms, [*mine, *(claim for _, claim in others)], len(mine))
    if found is None:
        return None
    i, j, kind = found
    return items[i], items[j], kind

"""Quotes that stand on their own: a sentence whose subject points back ("Il a ajouté…",
"Ce dernier…", "Le président a dit…") is quoted with the sentence that names it.

Only within one line: a line break or a heading is a boundary, beyond which the pronoun may
well refer to something else, so such a sentence is not extended (the answer prefers another).
"""

from __future__ import annotations

import re

from index.chunking import Span

# What the eval counts as a dangling opening (after a leading quotation mark): a subject pronoun,
# perhaps after a short opening clause ("Mardi, il a…"), impersonal uses excepted.
DANGLING_RE = re.compile(r"^(?:[^,.;:!?]{0,40},\s*)?(il|elle|ils|elles)\s", re.IGNORECASE)
IMPERSONAL_RE = re.compile(r"^il\s+(?:y a|faut|s'agit|s’agit|semble|reste|suffit|vaut|para[iî]t|manque|fait)\b",
                           re.IGNORECASE)
_LEADING_QUOTES = "«\"“”„'‘’ \u00a0"
_DEMONSTRATIVE_RE = re.compile(r"^(?:[^,.;:!?]{0,40},\s*)?(ce dernier|cette derni[eè]re|ces derni(?:er|[eè]re)s|"
                               r"celui-ci|celle-ci|ceux-ci|celles-ci)\b", re.IGNORECASE)
_TITLES = ("président|présidente|ministre|premier ministre|première ministre|chancelier|chancelière|"
           "porte-parole|secrétaire|dirigeant|dirigeante|chef|cheffe|maire|roi|reine|pape|général|"
           "entraîneur|directeur|directrice|patron|patronne|candidat|candidate|souverain|prince|princesse|"
           "joueur|joueuse|artiste|écrivain|auteur|chanteur|chanteuse|acteur|actrice|empereur|ancien président")
# A title is the bare subject only when a verb follows it at once ("Le président a dit"), not when
# a name or a complement does ("La secrétaire de presse, Karoline Leavitt, a dit").
_VERB_NEXT = (r"a|avait|aura|aurait|est|était|sera|serait|s['’]est|se|n['’]a|ne|y|qui|lui-même|elle-même|doit|"
              r"devait|peut|pourrait|veut|voulait|dit|estime|affirme|déclare|souligne|ajoute|rappelle|explique|"
              r"assure|annonce|indique|précise|juge|refuse|accepte")
_BARE_TITLE_RE = re.compile(r"^(?:[^,.;:!?]{0,40},\s*)?(?:le|la|l'|l’)\s*(?:" + _TITLES + r")\s+(?:" + _VERB_NEXT
                            + r")\b", re.IGNORECASE)
_NAME_RE = re.compile(r"\b[A-ZÀ-Ý][a-zà-ÿ'-]+")
_LINE_BREAKS = "\n\r\u2028\u2029\x85\x0b\x0c"


def opening(text: str) -> str:
    return text.lstrip(_LEADING_QUOTES)


def dangles(text: str) -> bool:
    """The eval's rule: opens on il/elle/ils/elles as a subject, impersonal uses excluded."""
    head = opening(text)
    m = DANGLING_RE.match(head)
    if not m:
        return False
    return not IMPERSONAL_RE.match(head[m.start(1):])


def needs_antecedent(sentence: str, previous: str | None = None) -> bool:
    """Whether the sentence's subject is a reference resolved only by what comes before it.

    A bare title ("Le président a dit") counts only when the sentence before names someone.
    """
    if dangles(sentence):
        return True
    head = opening(sentence)
    if _DEMONSTRATIVE_RE.match(head):
        return True
    if previous is not None and _BARE_TITLE_RE.match(head):
        body = opening(previous)
        return bool(_NAME_RE.search(body[1:]))  # a capitalised word past the sentence's first letter
    return False


def same_paragraph(text: str, left: Span, right: Span) -> bool:
    """Both are sentences and nothing but spaces on one line lies between them."""
    if left.kind != "sentence" or right.kind != "sentence" or left.end > right.start:
        return False
    gap = text[left.end:right.start]
    return not any(c in _LINE_BREAKS for c in gap)


def quote_start(text: str, spans: list[Span], i: int, max_back: int = 2) -> int | None:
    """Where the quote of sentence `i` must start to name its subject: its own start when it stands
    alone, an earlier sentence's start on the same line, or None when the name lies beyond a
    boundary (or further back than `max_back` sentences)."""
    j = i
    for _ in range(max_back + 1):
        prev = spans[j - 1] if j > 0 else None
        prev_text = text[prev.start:prev.end] if prev is not None else None
        if not needs_antecedent(text[spans[j].start:spans[j].end], prev_text):
            return spans[j].start
        if prev is None or not same_paragraph(text, prev, spans[j]):
            return None
        j -= 1
    return None


def lead_sentence(text: str, all_spans: list[Span], span: Span) -> Span | None:
    """For a sentence whose subject points back across a paragraph break (one-sentence paragraphs,
    as agencies write them), the sentence just before it when that one stands on its own and no
    heading lies between: cited first, as a quote of its own, it names the subject."""
    k = next((n for n, s in enumerate(all_spans) if s.start == span.start), None)
    if not k:
        return None
    prev = all_spans[k - 1]
    if prev.kind != "sentence":
        return None  # a heading in between: a new section, maybe a new subject
    before = all_spans[k - 2] if k >= 2 and all_spans[k - 2].kind == "sentence" else None
    if needs_antecedent(text[prev.start:prev.end], text[before.start:before.end] if before else None):
        return None
    return prev

"""What kind of answer a question asks for (a number, a date, a person, a place) and whether a
sentence holds one: cues for choosing sentences (assistant/answer.py) and highlighting words."""

from __future__ import annotations

import re

from index.french import fold_accents, tokenize

# Question-type cues: what kind of token an answer to "qui/quand/combien/où" usually holds.
_MONTHS = ("janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre "
           "january february march april may june july august september october november december "
           "lundi mardi mercredi jeudi vendredi samedi dimanche").split()
_DATE_RE = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b|\b(" + "|".join(_MONTHS) + r")\b|\bsiecle\b")
_NUMBER_RE = re.compile(r"\d|\b(un|une|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|onze|douze|vingt|"
                        r"trente|quarante|cinquante|cent|cents|mille|million|millions|milliard|milliards|"
                        r"dizaine|dizaines|centaine|centaines|moitie|quart|tiers)\b")
_NAME_RE = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-ZÀ-Ý][\wÀ-ÿ'-]+")


def question_type(question: str) -> str | None:
    q = fold_accents(question.lower())
    words = re.findall(r"[a-z]+", q)
    head = " ".join(words[:4])
    if re.search(r"\b(combien|how many|how much|quel (nombre|montant|age)|quelle (somme|quantite|superficie|population))\b", q):
        return "number"
    if re.search(r"\b(quand|en quelle annee|a quelle date|quelle annee|quel siecle|depuis quand|when|what year)\b", q):
        return "date"
    thing = re.search(r"\bqu\W?est\W?ce qui\b", q)  # "qu'est-ce qui": a thing, not a person
    if not thing and (re.search(r"\b(qui|who|whom|par qui|de qui|a qui)\b", head) or re.match(r"^(qui|who)\b", q)):
        return "person"
    if re.search(r"\b(ou|where|dans quel pays|dans quelle ville|quel pays|quelle ville|quelle region)\b", head):
        return "place"
    return None


def cue_score(kind: str | None, sentence: str, question: str) -> float:
    if kind is None:
        return 0.0
    folded = fold_accents(sentence.lower())
    if kind == "number":
        return 1.0 if _NUMBER_RE.search(folded) else 0.0
    if kind == "date":
        return 1.0 if _DATE_RE.search(folded) else 0.0
    q_words = {w.lower() for w in tokenize(question)}
    names = [m.group(0) for m in _NAME_RE.finditer(sentence) if m.group(0).lower() not in q_words]
    return 1.0 if names else 0.0

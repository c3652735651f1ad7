"""Whose words a question asks for, and whether a sentence reports that person's words.

"Que demande Poutine pour un cessez-le-feu ?" asks what Putin says or wants; word overlap prefers
"Trump a exhorté Poutine à signer un accord de cessez-le-feu", which shares more words but where
Putin is only the object. A sentence where the asked-about speaker is the subject of a verb of
saying or wanting ("M. Poutine a déclaré qu'il souhaitait…") is what the question asks for.
"""

from __future__ import annotations

import re

from index.french import fold_accents

# Question openings that ask what someone says, wants or demands.
_ASKS_WORDS = re.compile(
    r"^(?:que|qu['’]|qu['’]est[- ]ce qu['’]?e?)\s*(?:a[- ]t[- ](?:il|elle)\s+)?(?:a\s+)?"
    r"(?:demand|veu|voul|exig|reclam|souhait|propos|dit|dis|pens|affirm|repond|annonc|declar|estim|"
    r"pose|attend|prevoi|promet|promis)\w*\s+(?P<who>.+)$")
_NAME = re.compile(r"\b(?:M\.|Mme)?\s*([A-ZÀ-Ý][\wÀ-ÿ'’-]+(?:\s+[A-ZÀ-Ý][\wÀ-ÿ'’-]+)*)")
_BODY = re.compile(r"^(?:le|la|les|l['’])\s*(kremlin|gouvernement|elysee|maison[- ]blanche|otan|onu|ue|"
                   r"commission|ministere|armee|police|parquet)\b")
# Stems (accents folded) of verbs of saying or wanting; assistant/attribution.py adds its own to them.
SAYING_STEMS = ("declare", "affirme", "assure", "indique", "dit", "repondu", "explique", "estime", "souhait",
                "demand", "exig", "reclam", "veut", "voulait", "conditionn", "pose", "prevenu", "averti",
                "annonce", "propose", "appel", "insist", "reitere", "martele")
# A verb of saying or wanting, a few words after the speaker (auxiliaries and adverbs between).
_SAYS = re.compile(
    r"^(?:\W+\w+){0,4}?\W+(?:a|ont|avait|aurait)?\s*(?:\w+\s+)?(?:" + "|".join(SAYING_STEMS) + r")\w*")


# Who speaks for a country or a body: "l'armée de Kiev", "le porte-parole du Kremlin".
_VOICE_OF = re.compile(r"\b(?:armee|gouvernement|ministere|ministre|porte-parole|presidence|president|diplomatie|"
                       r"chef|dirigeants?|autorites|services|etat-major)\s+(?:de|du|d['’])\s*$")


def asked_speaker(question: str) -> str | None:
    """The person or body whose words the question asks for, folded ("poutine", "kremlin"), or None."""
    m = _ASKS_WORDS.match(fold_accents(question.strip().lower()))
    if not m:
        return None
    tail_start = len(question.strip()) - len(m.group("who"))
    tail = question.strip()[tail_start:]
    body = _BODY.match(fold_accents(tail.lower()))
    if body:
        return body.group(1)
    name = _NAME.match(tail)
    if not name:
        return None
    return fold_accents(name.group(1).split()[-1].lower())


def reports_speaker(speaker: str, sentence: str) -> bool:
    """Whether the speaker is the subject of a verb of saying or wanting in the sentence."""
    folded = fold_accents(sentence.lower())
    for m in re.finditer(r"\b" + re.escape(speaker) + r"\b", folded):
        before = folded[max(0, m.start() - 30):m.start()]
        if _VOICE_OF.search(before):
            pass  # "l'armée de Kiev a déclaré": Kiev speaks through its army
        elif re.search(r"\b(?:a|au|aux|de|du|d['’]|par|avec|pour|contre|selon)\s+(?:m\.\s*|president\s+\w*\s*)?$",
                       before):
            continue  # an object or a complement, not the one speaking ("exhorte M. Poutine a…")
        if _SAYS.match(folded[m.end():m.end() + 60]):
            return True
    return False

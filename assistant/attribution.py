"""Who a quote reports: the person or body whose words or claim a sentence of a dispatch carries.

"…", a déclaré Dmitri Peskov · Le Kremlin a déclaré que… · selon Kiev · d'après le ministère ·
pour Grégory Doucet, … · "…", a-t-il ajouté (the pronoun is the previous sentence's speaker).
None when the dispatch speaks in its own voice. Names come out as written ("le Kremlin",
"l'armée de Kiev"); a bare "Peskov" or "M. Peskov" becomes the fuller "Dmitri Peskov" when the
dispatch wrote it earlier. Pure: text in, string out (tests/test_attribution.py).
"""

from __future__ import annotations

import re
from functools import lru_cache

from assistant.speech import SAYING_STEMS
from index.chunking import Span, split_sentences
from index.french import fold_accents

# Stems (accents folded, lower case) of verbs that report words or a claim, beyond speech.py's
# verbs of saying or wanting; a regular ending must follow (`_ENDINGS`), so nouns such as
# "l'appel" or "les affirmations" do not match.
_MORE_STEMS = ("precis", "ajout", "soulign", "confirm", "rappel", "jug", "denonc", "regrett", "confi", "racont",
               "accus", "dement", "contest", "refut", "revendiqu", "resum", "comment", "deplor", "justifi",
               "alert", "rapport", "revel", "plaid", "exhort", "menac", "qualifi", "evoqu", "consider",
               "minimis", "salu", "condamn", "critiqu", "fustig", "ironis", "tweet", "twitt", "temoign",
               "pretend", "clam", "scand", "observ", "incit", "signal", "not", "avou", "admett", "poursuiv")
_STEMS = tuple(dict.fromkeys(s.rstrip("e") for s in (*SAYING_STEMS, *_MORE_STEMS)
                             if s not in ("dit", "repondu", "prevenu", "averti", "veut", "voulait", "propose", "pose")))
_ENDINGS = r"(?:e|ent|ee|ees|ait|aient|ant|era|erait|eront)"
_IRREGULAR = (r"dit|dite|disent|disait|dira|repond|repondu|repondent|repondait|reconnu|reconnait|reconnaissent|"
              r"admis|admet|ecrit|ecrivait|promis|promet|prevenu|previent|averti|avertit|conclu|conclut|souri|"
              r"sourit|emis|mis en garde|fait savoir|soutenu|soutient|soutenait|nie|nient|niait|reagi|reagit|poursuit|estime|affirme")
_VERB = re.compile(r"(?:(?<![\w'’-])|(?<=\b[lnsmt]['’]))(?:(?:" + "|".join(_STEMS) + r")" + _ENDINGS + r"|(?:" + _IRREGULAR + r"))(?![\w'’])")

_AUX = re.compile(r"(?:\b(?:a|ont|avait|avaient|aurait|auraient|aura|avait-il)|-t-(?:il|elle|on)|"
                  r"\bs['’](?:est|était|étaient)|\bse sont|\bse|\bs['’])"
                  r"((?:\s+(?:[\wéèêàâîôûç'’-]+)){0,3}?)\s*$", re.IGNORECASE)
_PASSIVE = re.compile(r"(?<!['’])\b(?:été|est|sont|était|étaient)\s*$", re.IGNORECASE)
_PRONOUN = re.compile(r"^(?:il|elle|ils|elles|lui|eux|on|lui-même|elle-même)$", re.IGNORECASE)
_INVERTED_PRONOUN = re.compile(r"^(?:-t)?-(il|elle|ils|elles|on)\b", re.IGNORECASE)
# Who spoke, said again ("selon cette même source"): the previous sentence's speaker.
_ANAPHOR = re.compile(r"^(?:cette même source|la même source|ce dernier|cette dernière|celui-ci|celle-ci|"
                      r"ces derniers|ces dernières)$", re.IGNORECASE)
# Words between the verb and its subject when the subject comes after ("a déclaré vendredi à l'AFP X").
_WEEKDAY = r"(?:lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)"
_SKIP_AFTER = re.compile(
    r"^(?:(?:à|a) l['’]AFP|aux journalistes|à la presse|auprès de l['’]AFP|" + _WEEKDAY + r"(?:\s+(?:soir|matin))?|"
    r"hier|ce \w+|encore|également|aussi|ensuite|enfin|alors|toutefois|de son côté|pour sa part|à son tour|"
    r"dans (?:un|une|le|la|l['’]|son|sa) ?[\w'’-]+(?-i: [A-ZÀ-Ý][\w'’-]+)*|sur [\w'’-]+ [\w'’-]+|"
    r"au micro (?:de|d['’]) ?(?-i:[A-ZÀ-Ý][\w'’-]+)|devant [\w'’-]+ [\w'’-]+|lors [\w'’ -]+?(?=,)|cité [\w'’ -]+?(?=,))\s*,?\s+",
    re.IGNORECASE)
_NP_END = re.compile(r"\s*(?:[,;:!?()«»\"“”]|(?<!\bM)(?<!\bMM)(?<!\bDr)(?<!\bPr)\.|"
                     r"\s(?:qui|dont|lors|dans|sur|au|aux|à|en|avant|après|selon|avec|auprès|devant|pendant|mais|"
                     r"car|ce|cette|depuis|par|affirmant|ajoutant|estimant|soulignant|" + _WEEKDAY + r")(?=[\s,.;:]|$))")
_LEADS = re.compile(r"^(?:mais|et|or|puis|alors|toutefois|cependant|pourtant|enfin|ainsi|c['’]est|"
                    r"c['’]était|quant à|de son côté,?)\s+", re.IGNORECASE)
_NOT_SUBJECT = re.compile(r"^(?:sans|pour|dans|en|après|avant|lors|selon|depuis|malgré|par|du|de|des|d['’]|"
                          r"au|aux|à|sur|chez|parmi|vers|contre|outre|face|notamment|si|comme|quand|lorsque|alors|puis|" + _WEEKDAY + r"|ce|cela|"
                          r"ça|tout|tous|rien|il y a|y|ne|n['’]|que|qu['’]|qui|dont|ou|où|[0-9])\b",
                          re.IGNORECASE)
_DETERMINER = re.compile(r"^(?:le|la|les|l['’]|un|une|des|du|son|sa|ses|leur|leurs|cette|ce|ces|plusieurs|"
                         r"certains|certaines|nombre|M\.|Mme|Mmes|MM\.|Mlle|Me|Dr|Pr)\b", re.IGNORECASE)
_CAPITAL = re.compile(r"^[A-ZÀ-Ý]")
_QUOTES = "«»\"“”"
_SELON = re.compile(r"\b(?:selon|d['’]après|pour)\s+", re.IGNORECASE)
_PERSON_NAME = re.compile(r"(?:[A-ZÀ-Ý][\w'’-]+|d['’][A-ZÀ-Ý][\w'’-]+)(?:\s+(?:[A-ZÀ-Ý][\w'’-]+|d['’][A-ZÀ-Ý][\w'’-]+))+")
_NOT_FIRST_NAME = {"le", "la", "les", "selon", "pour", "mais", "et", "m.", "mme", "pr", "dr", "de", "du", "des",
                   "président", "ministre", "porte-parole", "chef", "général", "l'armée", "lundi", "mardi",
                   "mercredi", "jeudi", "vendredi", "samedi", "dimanche", "si", "ce", "cette", "en", "à"}


def fold(text: str) -> str:
    """Lower case without accents, one character for one (offsets stay those of `text`)."""
    return "".join((fold_accents(ch) or ch)[0] for ch in text.lower())


_LOOK_BACK = 1500  # characters before a quote where its speaker may be named


def quote_speaker(text: str, start: int, end: int) -> str | None:
    """Who the quote `text[start:end]` reports, or None when the dispatch speaks in its own voice."""
    # Only the lines around the quote: what pronouns point back to is a few sentences away.
    line_end = min((i for i in (text.find(c, end) for c in "\n\r") if i >= 0), default=len(text))
    region = text.rfind("\n", 0, max(0, start - _LOOK_BACK)) + 1
    spans = [s for s in split_sentences(text[:line_end], region) if s.kind == "sentence"]
    inside = [i for i, s in enumerate(spans) if s.end > start and s.start < end]
    # A quote may open inside a line's first span (a dateline or header before the body).
    sentences = [text[max(s.start, start) if i == inside[0] else s.start:s.end] for i, s in enumerate(spans)] \
        if inside else []
    para = _paragraphs(text, spans)
    for i in inside:
        found = _resolved(sentences, i, para)
        if found:
            return expand_name(found, text[:spans[i].end])
    return None


def _paragraphs(text: str, spans: list[Span]) -> list[int]:
    """For each sentence, the number of the paragraph (line) it stands in."""
    out, n = [], 0
    for k, span in enumerate(spans):
        n += k > 0 and "\n" in text[spans[k - 1].end:span.start]
        out.append(n)
    return out


def _resolved(sentences: list[str], i: int, para: list[int], depth: int = 0) -> str | None:
    """The speaker of sentence i, a pronoun or "this source" taken back to the sentences before."""
    found = sentence_speaker(sentences[i], _open_before(sentences, i, para))
    if found is None:
        # A quotation going on from the sentence before, with no attribution of its own.
        return _resolved(sentences, i - 1, para, depth + 1) if depth < 3 and _continues_quote(sentences, i, para) \
            else None
    if not (_PRONOUN.match(found) or _ANAPHOR.match(found)):
        return found
    plural = found.lower() in ("ils", "elles", "eux", "ces derniers", "ces dernières")
    for j in range(i - 1, max(i - 3, -1), -1):
        if depth >= 3:
            break
        before = _resolved(sentences, j, para, depth + 1)
        if before is not None:
            return before if _is_plural(before) == plural else None
    if _ANAPHOR.match(found) or plural:
        return None
    for j in range(i - 1, max(i - 3, -1), -1):  # "Il explique…" after a sentence naming someone
        plain = _outside_quotes(sentences[j])
        names = [m for m in _PERSON_NAME.finditer(plain) if m.start() < 80
                 and m.group(0).split()[0].lower() not in _NOT_FIRST_NAME
                 and not _AFTER_PREPOSITION.search(plain[max(0, m.start() - 30):m.start()])]
        if names:
            return names[0].group(0)
    return None


# A name after a preposition is not the subject: "loin devant l'ex-filloniste Florence Portelli".
_AFTER_PREPOSITION = re.compile(r"\b(?:de|du|des|d['’]|à|au|aux|par|avec|contre|pour|devant|derrière|sur|chez|entre|"
                                r"selon|après|avant)\s+(?:(?:l['’]|le|la|les)\s*)?(?:[\w'’-]+\s+)?$", re.IGNORECASE)


def _is_plural(speaker: str) -> bool:
    return bool(re.match(r"(?:les|des|plusieurs|certains|certaines|ces|leurs)\s", speaker, re.IGNORECASE)
                or " et " in speaker)


def _continues_quote(sentences: list[str], i: int, para: list[int]) -> bool:
    """A sentence that opens on a quotation mark, or closes a quote left open, right after a
    sentence that quoted someone, goes on with that person's words."""
    if i == 0 or not any(q in sentences[i - 1] for q in _QUOTES):
        return False
    text = sentences[i].strip()
    if _open_before(sentences, i, para):
        return True
    if text[:1] not in _QUOTES:
        return False
    closing = min((p for p in (text.find(q, 1) for q in _QUOTES) if p > 0), default=-1)
    return closing < 0 or len(text) - closing <= 3  # all of it a quotation, not a quoted heading then news


def _open_before(sentences: list[str], i: int, para: list[int]) -> bool:
    """Whether a quotation opened in the few sentences before i, in its paragraph, is still open
    where i starts (agencies do not always close a quotation at the end of a paragraph)."""
    before = "".join(sentences[k] for k in range(max(0, i - 3), i) if para[k] == para[i])
    opens = before.count("«") + before.count("“")
    closes = before.count("»") + before.count("”")
    return opens > closes or before.count('"') % 2 == 1


def _outside_quotes(sentence: str, inside: bool = False) -> str:
    """The sentence with quoted words blanked (same length); `inside`: it opens within a quote."""
    out = []
    for ch in sentence:
        if ch in "«“":
            inside = True
        elif ch in "»”":
            inside = False
        elif ch == '"':
            inside = not inside
        out.append(" " if inside and ch not in _QUOTES else ch)
    return "".join(out)


@lru_cache(maxsize=4096)
def sentence_speaker(sentence: str, inside_quote: bool = False) -> str | None:
    """The speaker one sentence names, as written (a pronoun "il" stays a pronoun), or None.
    `inside_quote`: the sentence opens within a quotation begun before it."""
    plain = _outside_quotes(sentence, inside_quote)
    if plain.rstrip(" " + _QUOTES).endswith("?"):
        return None  # a question asserts nothing
    folded = fold(plain)
    found: list[tuple[int, str]] = []
    asked = _AFTER_QUOTE_ASKED.search(plain)
    if asked:
        found.append((asked.start(), asked.group(1)))
    for m in _AFTER_QUOTE.finditer(plain):
        # Right after a quotation, any verb introduces its speaker: '"…", a répété M. Macron'.
        who = m.group(1) or _subject_after(plain, m.end())
        if who and not _NOT_SUBJECT.match(who):
            found.append((m.start(), who))
            break
    for m in _VERB.finditer(folded):
        who = _verb_subject(plain, m.start(), m.end())
        if who:
            found.append(who)
            break
    for m in _SELON.finditer(plain):
        who = _selon_subject(plain, m.start(), m.end())
        if who:
            found.append((m.start(), who))
            break
    if not found:
        return None
    return min(found)[1]


# A quotation, a comma, then a verb of any kind before its speaker: '"…", a répété M. Macron',
# '« … », interroge-t-il'. The verb is unknown, so it must look like one and a subject must follow.
_AFTER_QUOTE = re.compile(r"[»\"”]\s*,\s*(?:(?:a|avait|ont|avaient)\s+(?:[a-zéèêàâîôûç]+ment\s+)?)?(?:s['’])?"
                          r"(?!(?:comme|dont|notamment|puisque|lorsque|tandis|alors|selon|entre|contre|avant|"
                          r"pendant|ensuite|cette|une|elle|quelle|même|encore|toute|autre|note|ville)\b)"
                          r"[a-zéèêàâîôûç]{3,}(?:é|e|ent|it|ut|is)(?:-t)?(?:-(il|elle|ils|elles|on)\b)?(?=[\s,.])")
_AFTER_QUOTE_ASKED = re.compile(r"[»\"”]\s*,?\s*(?:a|avait)-t-(il|elle|on)\s+[a-zéèêàâîôûç]+(?=[\s,.])")
_ASKED_PRONOUN = re.compile(r"-t-(il|elle|on)\s+(?:\S+\s+){0,2}$|\b(?:ont|avaient)-(ils|elles)\s+(?:\S+\s+){0,2}$",
                            re.IGNORECASE)


def _verb_subject(s: str, vs: int, ve: int) -> tuple[int, str] | None:
    """(where, who) for the verb at s[vs:ve]: the subject after it ("…, a déclaré X") or before it."""
    inverted = _INVERTED_PRONOUN.match(s[ve:])
    if inverted:
        return vs, inverted.group(1)
    before = s[:vs]
    asked = _ASKED_PRONOUN.search(before)
    if asked:
        return vs, asked.group(1) or asked.group(2)
    aux = _AUX.search(before)
    if _reports_nothing(s, vs, ve, before, aux):
        return None
    head = before[:aux.start()] if aux else before
    if aux:
        head = _OBJECT_PRONOUNS.sub("", head)
    elif _DETERMINER_BEFORE.search(head) and not _AS_SAYS.search(head):
        return None  # "l'annonce", "la demande": a noun, not a verb
    else:
        head = re.sub(r"\s+(?:vous|nous|lui|leur|me|te)\s*$", " ", head, flags=re.IGNORECASE)
    opens_clause = not head.strip() or head.rstrip()[-1] in ",«»\"“”"
    if fold(s[vs:ve]).startswith(_WEAK) and not opens_clause and not _CLAUSE_AFTER.match(s[ve:]):
        return None  # "la Cour a confirmé le verdict": an act, not words reported
    participle = fold(s[vs:ve]).endswith("ant")
    if participle and not head.rstrip().endswith(","):
        return None
    after_quote = head.rstrip(" ,")[-1:] in _QUOTES
    if fold(s[vs:ve]).startswith(_OBJECT_FIRST) and not after_quote:
        opens_clause = False  # "le président, qui…, avait appelé les combattants à…": an object follows
    if not participle and (opens_clause or _AS_SAYS.search(head)):
        after = _subject_after(s, ve)
        if after:
            return vs, after
    who = _subject_before(head)
    return (max(s.rfind(who, 0, vs), 0), who) if who else None


def _reports_nothing(s: str, vs: int, ve: int, before: str, aux: re.Match[str] | None) -> bool:
    """A passive, a negation, a participle qualifying a noun, a reflexive such as "s'annonce",
    or a verb inside an opening subordinate clause."""
    if _PASSIVE.search(before):
        return True
    if aux and re.search(r"\b(?:été|pas|jamais|plus)\b", aux.group(1), re.IGNORECASE):
        return True
    if not aux and s[vs:ve].lower().endswith(("é", "ée", "és", "ées", "dite", "dits", "dites", "emis")):
        return True  # "les mesures annoncées"
    if aux and re.search(r"(?:\bse|s['’])(?:\s+(?:sont|est|était|étaient))?\s*$", aux.group(0).split()[0] + " ") \
            and not re.match(r"(?:dit|dite|dits|dites|disent|declar|affirm)", fold(s[vs:ve])):
        return True  # "une tâche qui s'annonce délicate"
    # "Alors que le gouvernement plaide…, ces médecins déplorent…": the main clause speaks.
    return bool(_OPENING_SUBORDINATE.match(before) and "," not in re.sub(r"\([^)]*\)", "", before))


_CLAUSE_AFTER = re.compile(r"\s*(?:[,:«»\"“”]|(?:à|a) [^,]{0,40}?(?:que|qu['’])|que|qu['’])")
# Verbs that also name acts: they report words only with a clause or a quotation after them.
_WEAK = ("confirm", "rappel", "revel", "signal", "salu", "condamn", "critiqu", "consider", "observ", "not", "menac",
         "minimis", "reconn")
# Verbs whose object, a person or a thing, follows them: the subject comes first unless a quotation
# precedes ("…", a lancé X).
_OBJECT_FIRST = ("appel", "exhort", "demand", "accus", "menac", "critiqu", "condamn", "salu", "denonc", "qualifi",
                 "evoqu", "minimis", "revendiqu", "reclam", "exig", "souhait", "plaid", "alert", "avert", "rappel", "incit")
_OBJECT_PRONOUNS = re.compile(r"(?:\s+(?:leur|lui|me|te|nous|vous|les|le|la|y|en|ne)|\s*\b(?:l|n|m|t)['’])+\s*$",
                              re.IGNORECASE)
# "comme le rapporte Le Parisien", "ainsi que l'a précisé le maire": the subject follows the verb.
_AS_SAYS = re.compile(r"\b(?:comme|ainsi que|c['’]est ce que)\s*(?:le|l['’])?\s*$", re.IGNORECASE)
_DETERMINER_BEFORE = re.compile(r"(?:\b(?:le|la|les|une|un|des|du|de|sa|son|ses|leur|cette|ces)\s+|\bl['’])$",
                                re.IGNORECASE)
_APPOSITION = re.compile(r"^,\s*(" + _PERSON_NAME.pattern + r")\s*(?:[,.;]|$)")


def _subject_after(s: str, ve: int) -> str | None:
    rest = s[ve:]
    if not rest[:1].isspace():
        return None
    rest = rest.lstrip()
    for _ in range(4):
        skip = _SKIP_AFTER.match(rest)
        if not skip:
            break
        rest = rest[skip.end():]
    if not (_DETERMINER.match(rest) or _CAPITAL.match(rest)) or _NOT_SUBJECT.match(rest):
        return None
    end = _NP_END.search(rest)
    np = rest[:end.start()] if end else rest
    if end:
        apposition = _APPOSITION.match(rest[end.start():])
        if apposition and not _CAPITAL.match(np.split()[-1]):
            return apposition.group(1)  # "le secrétaire d'Etat américain, Marco Rubio,"
    return _tidy(np)


_CLAUSE_CUT = re.compile(r".*(?:\bque\s|\bqu['’]|\bmais\s|\bcar\s|\bselon\s|\bd['’]après\s)", re.IGNORECASE | re.DOTALL)


def _subject_before(head: str) -> str | None:
    """The subject that ends `head` (the text before the verb and its auxiliary), skipping an
    apposition or an incidental clause between commas ("Le président russe, sans s'opposer…, a")."""
    pieces = re.split(r"[,;:«»\"“”]", re.sub(r"\([^)]*\)", lambda m: " " * len(m.group(0)), head))
    k = len(pieces) - 1
    for _ in range(5):
        if k < 0:
            return None
        piece = _CLAUSE_CUT.sub("", pieces[k]).strip()
        piece = _LEADS.sub("", piece).strip()
        piece = re.sub(r"\s+(?:lui-même|elle-même|lui|elle|eux|aussi|également|notamment|ne|n['’])$", "", piece,
                       flags=re.IGNORECASE)
        if piece.lower() == "qui" and k > 0:
            name = re.search(r"(" + _PERSON_NAME.pattern + r")\s*$", pieces[k - 1])
            if name:
                return name.group(1)  # "retweetée par Marine Le Pen, qui a dénoncé…"
        if piece.lower() == "qui" or not piece:
            k -= 1
            continue
        if piece.lower().endswith(" qui"):
            piece = piece[:-4].strip()
        if _SUBORDINATE.search(pieces[k]) or re.match(r"dont\b", piece, re.IGNORECASE):
            return None  # "Alors qu'il a promis…", "dont il dénonce…": not what the sentence asserts
        if _PRONOUN.match(piece):
            return piece
        if re.match(r"(?:je|j['’]|nous|tu|vous)\b", piece, re.IGNORECASE):
            return None  # first person: words inside a quotation
        if _NOT_SUBJECT.match(piece) or not (_DETERMINER.match(piece) or _CAPITAL.match(piece)):
            k -= 1  # an incidental clause or an apposition: "X, mise en garde par…, a jugé"
            continue
        if len(piece.split()) <= 12 and not _FINITE.search(piece):
            return _tidy(piece)
        return None
    return None


_OPENING_SUBORDINATE = re.compile(r"\s*(?:alors|bien|tandis|après|avant|dès|parce|afin|depuis)\s+qu|\s*(?:lorsqu|puisqu|"
                                  r"quoiqu)['’]|\s*(?:si|quand|comme)\s", re.IGNORECASE)
_SUBORDINATE = re.compile(r"(?:\b(?:alors|bien|tandis|après|avant|pendant|dès|parce|pour|sans|afin|depuis)\s+qu['’e]"
                          r"|\b(?:lorsqu|puisqu|quoiqu)['’]|^\s*(?:si|quand)\b)[^,]*$", re.IGNORECASE)
_FINITE = re.compile(r"\b(?:a|ont|est|sont|était|avait|s['’]est|ne|n['’]\w+|se|sera|fut|peut|doit|va|vont|fait|"
                     r"font|\w+aient|\w+ait|\w+ront|\w+rait)\b", re.IGNORECASE)


_SOURCE_OF = re.compile(r"^(?:les|des|une|l['’]|la|le|de|ces)\s+(?:(?:dernières?|premières?|nouvelles?)\s+)?"
                        r"(?:informations?|images|propos|données|chiffres|déclarations|révélations)\s+"
                        r"(?:(?:révélée?s?|publiée?s?|diffusée?s?|rapportée?s?)\s+par|de|du|des|d['’])\s*", re.IGNORECASE)
_NO_SOURCE = re.compile(r"^(?:lequel|laquelle|lesquels|lesquelles|qui|que|quoi|moi|nous|nos|notre|les cas|"
                        r"(?:des|les) (?:estimations|chiffres|données|informations|sources))\b", re.IGNORECASE)


def _selon_subject(s: str, ms: int, me: int) -> str | None:
    word = s[ms:me].strip().lower()
    rest = s[me:]
    stripped = _SOURCE_OF.sub("", rest)
    if _NO_SOURCE.match(stripped) and not re.match(r"(?:des|les) sources \w+", stripped, re.IGNORECASE):
        return None
    if stripped != rest and _CAPITAL.match(stripped):
        rest = stripped  # "une information révélée par Paris Match" -> "Paris Match"
    end = _NP_END.search(rest)
    np = (rest[:end.start()] if end else rest).strip()
    name_then_more = re.match(r"([A-ZÀ-Ý][\w'’-]+(?:\s+[A-ZÀ-Ý][\w'’-]+)*)\s+(?:la|le|les|l['’]|un|une|des|que|qu['’])",
                              np)
    if name_then_more:
        np = name_then_more.group(1)  # "selon Moscou la petite ville…"
    if word == "pour":
        # "Pour Grégory Doucet, Lyon…": a clause opening on a name then a comma, nothing else.
        opening = s[:ms].strip().lower() in ("", "mais", "et", "or")
        if not (opening and end and rest[end.start():].lstrip().startswith(",")
                and (re.search(r"\b[A-ZÀ-Ý]", np) or _PRONOUN.match(np))):
            return None
    source = _SOURCE_OF.sub("", np)
    np = source if _CAPITAL.match(source) else np  # "les informations de Gala" -> "Gala"
    if not np or not (_DETERMINER.match(np) or _CAPITAL.match(np) or _PRONOUN.match(np) or _ANAPHOR.match(np)):
        return None
    return np if (_PRONOUN.match(np) or _ANAPHOR.match(np)) else _tidy(np)


_LINK = {"de", "du", "des", "d'", "d’", "la", "l'", "l’", "le", "les", "au", "aux"}


def _tidy(np: str) -> str | None:
    """The speaker as written, a person's name rather than the title before it ("le président
    ukrainien Volodymyr Zelensky" -> "Volodymyr Zelensky"); a body keeps its whole name."""
    np = np.strip().rstrip(",;:")
    np = np if re.search(r"\b(?:M|MM|Dr|Pr)\.$", np) else np.rstrip(".")
    words = np.split()
    if not words or len(words) > 14 or re.fullmatch(r"(?:M|MM|Mme|Mlle|Dr|Pr|Me)\.?", np) \
            or (len(words) == 1 and _DETERMINER.fullmatch(np)):
        return None
    run = len(words)
    while run > 0 and _CAPITAL.match(words[run - 1]):
        run -= 1
    name = words[run:]
    while len(name) > 2 and name[0].isupper() and len(name[0]) > 1:
        name = name[1:]  # an acronym before the name: "députés LR Damien Abad"
    if run > 0 and len(name) >= 2 and words[run - 1].lower() not in _LINK and not words[run - 1].endswith(("'", "’")):
        return " ".join(name)
    return np


def expand_name(name: str, before: str) -> str:
    """A bare surname ("Peskov", "M. Peskov") as the fuller name the dispatch wrote earlier; a bare
    title ("la ministre", "le président russe") as the name the dispatch gave it earlier."""
    bare = re.sub(r"^(?:M\.|Mme|Mlle|MM\.)\s*", "", name)
    if not re.fullmatch(r"[A-ZÀ-Ý][\w'’-]+", bare):
        return _titled_name(name, before) or name
    for m in re.finditer(r"((?:[A-ZÀ-Ý][\w'’-]+\s+){1,2})" + re.escape(bare) + r"\b", before):
        first = m.group(1).split()
        while first and first[0].lower() in _NOT_FIRST_NAME:
            first = first[1:]
        if first:
            return " ".join([*first, bare])
    return name


def _titled_name(title: str, before: str) -> str | None:
    words = title.split()
    if not (1 < len(words) <= 3 and words[0].lower() in ("le", "la", "l'", "l’")) or _CAPITAL.match(words[-1]):
        return None
    pattern = (r"\b(?i:" + re.escape(words[0]) + r")\s+" + r"\s+".join(re.escape(w) for w in words[1:])
               + r"\b((?:\s+[\w'’-]+){0,4}?)\s+(" + _PERSON_NAME.pattern + ")")
    found = []
    for m in re.finditer(pattern, before):
        if _FINITE.search(m.group(1)):
            continue  # "le journaliste a répondu à Jean-Luc Mélenchon": not his name
        name = m.group(2).split()
        if len(name) >= 3 and before[:m.start(2)].split()[-1].lower() in _LINK:
            name = name[1:]  # "la ministre de la Culture Roselyne Bachelot": "Culture" is the ministry's
        if name[0].lower() not in _NOT_FIRST_NAME:
            found.append(" ".join(name))
    return found[-1] if found else None


UNNAMED = "(unnamed)"  # in a labelled set: someone speaks, but the excerpt does not name them
_FILLER = {"le", "la", "les", "l", "de", "du", "des", "d", "un", "une", "m", "mme", "et", "au", "aux", "a", "son",
           "sa", "ses"}


def _name_words(name: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", fold_accents(name.lower())) if w not in _FILLER}


def same_speaker(found: str, gold: str, also: list[str] | tuple[str, ...] = ()) -> bool:
    """Whether two names name one speaker: the words of one (articles and "M." aside) are all words
    of the other ("Peskov" and "Dmitri Peskov"; "l'état-major de l'armée ukrainienne" and "l'armée
    ukrainienne"), for `gold` or one of its other names `also`."""
    if gold == UNNAMED:
        return False
    mine = _name_words(found)
    for name in (gold, *also):
        theirs = _name_words(name)
        if mine and theirs and (mine <= theirs or theirs <= mine):
            return True
    return False

"""French text analysis shared by the BM25 index, the query side and sentence scoring.

Index and query must produce identical terms, so everything here is pure and
deterministic; bump ``ANALYZER_VERSION`` whenever the output of ``analyze``
changes so that stored indexes get rebuilt. ``analyzer_identity()`` adds the installed
PyStemmer release: its Snowball rules are part of the output too.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # keep the C extension out of import time
    import Stemmer

__all__ = [
    "ANALYZER_VERSION",
    "STOP_WORDS",
    "analyze",
    "analyzer_identity",
    "content_terms",
    "fold_accents",
    "guess_language",
    "tokenize",
]

ANALYZER_VERSION: str = "fr-1"


@lru_cache(maxsize=1)
def analyzer_identity() -> str:
    """What the index records as having produced its terms: our rules and the stemmer's release.

    PyStemmer 3.x changes 0.19% of French stems; an index built with one release and queried
    with another would silently miss those terms, so the release is part of the identity and a
    change asks for a re-index instead.
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        stemmer = version("PyStemmer")
    except PackageNotFoundError:  # an unpackaged build: the module's own version string
        import Stemmer

        stemmer = Stemmer.version()
    return f"{ANALYZER_VERSION}+pystemmer-{stemmer}"

# Stored accent-folded: stop-word lookup folds the token first, so "où"/"ou"
# and "à"/"a" are both caught without listing every spelling.
_FRENCH_STOP_WORDS = """
    a au aux avec ce ces cet cette dans de des du en entre et la le les leur leurs
    lui ma mais me meme memes mes moi mon ne ni nos notre nous on ou par pas pour
    qu que qui sa se ses si son sur ta te tes toi ton tu un une vos votre vous
    je il ils elle elles eux soi y dont
    l d j n s c m t
    ceci cela ca celui celle ceux celles
    lequel laquelle lesquels lesquelles auquel auxquels auxquelles duquel desquels desquelles
    quoi quel quelle quels quelles comment pourquoi quand combien lorsque puisque quoique
    jusque jusqu lorsqu puisqu quoiqu presqu presque parce afin
    sous sans chez vers contre depuis pendant avant apres selon parmi durant malgre
    donc or car cependant toutefois pourtant neanmoins ainsi alors aussi encore deja
    plus moins tres bien tout tous toute toutes autre autres comme tant trop peu
    ici la voici voila non oui chaque aucun aucune certains certaines plusieurs
    aujourd'hui etc
    etre suis es est sommes etes sont etais etait etions etiez etaient
    fus fut fumes futes furent sois soit soyons soyez soient
    fusse fusses fussions fussiez fussent
    serai seras sera serons serez seront serais serait serions seriez seraient
    etant ete
    avoir ai as avons avez ont avais avait avions aviez avaient
    eus eut eumes eutes eurent eu aie aies ait ayons ayez aient
    eusse eusses eussions eussiez eussent
    aurai auras aura aurons aurez auront aurais aurait aurions auriez auraient
    ayant
"""

# Only unambiguous English function words: "an" (year), "us" (US) and "son"
# carry meaning in French news and are deliberately left out.
_ENGLISH_STOP_WORDS = """
    the of and to in is are was were be been being for with from that this these
    those it its or not what who whom which when where why how do does did have
    has had will would can could should i you he she we they his her their our
    my your there here about into than then so but by at as if
"""

STOP_WORDS: frozenset[str] = frozenset(
    (_FRENCH_STOP_WORDS + _ENGLISH_STOP_WORDS).split()
)

# Letters that NFKD does not decompose into base + combining mark.
_SPECIAL_FOLDS = str.maketrans(
    {
        "œ": "oe",
        "Œ": "OE",
        "æ": "ae",
        "Æ": "AE",
        "ß": "ss",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ł": "l",
        "Ł": "L",
        "ı": "i",
    }
)


def fold_accents(text: str) -> str:
    """Strip diacritics and expand ligatures ("Œuvre élevée" -> "Oeuvre elevee")."""
    if text.isascii():  # the common case for already-folded terms
        return text
    decomposed = unicodedata.normalize("NFKD", text.translate(_SPECIAL_FOLDS))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# Typographic apostrophes are normalised to "'" before tokenising.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})

# Thousands grouped with (narrow) no-break spaces, French typography: "40 000".
_GROUPED_NUMBER_RE = re.compile(r"\d{1,3}(?:[\u00a0\u202f]\d{3})+(?!\d)")

# Decimal numbers first so "1,5" is not cut at the comma; then letter/digit
# runs, optionally glued by apostrophes so elisions can be handled per token.
# Hyphens and underscores are not word characters here, which splits compounds.
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)+|[^\W_]+(?:'[^\W_]+)*")

_ELISIONS = frozenset(
    ["l", "d", "qu", "j", "n", "s", "c", "m", "t",
     "jusqu", "lorsqu", "puisqu", "quoiqu", "presqu"]
)  # fmt: skip


def _strip_elisions(token: str) -> str:
    """ "qu'aujourd'hui" -> "aujourd'hui", "l'armée" -> "armée", "trump's" -> "trump"."""
    while "'" in token:
        head, rest = token.split("'", 1)
        if head not in _ELISIONS:
            break
        token = rest
    return token.removesuffix("'s")  # English possessive in quoted names


def _ungroup_number(match: re.Match[str]) -> str:
    return re.sub(r"[\u00a0\u202f]", "", match.group())


def tokenize(text: str) -> list[str]:
    """Lowercase word tokens with French elisions removed and compounds split."""
    text = text.lower()
    # translate() walks every character through a dict (40% of analyze on French sentences);
    # most texts hold none of the characters it maps.
    if "\u2019" in text or "\u02bc" in text or "\u2018" in text:
        text = text.translate(_APOSTROPHES)
    if "\u00a0" in text or "\u202f" in text:
        text = _GROUPED_NUMBER_RE.sub(_ungroup_number, text)
    tokens: list[str] = []
    for token in _TOKEN_RE.findall(text):  # no groups in the pattern: whole matches
        if token[0].isdigit() and "," in token:
            token = token.replace(",", ".")  # one spelling for decimals: "1,5" == "1.5"
        elif "'" in token:
            token = _strip_elisions(token)
            if not token:
                continue
        tokens.append(token)
    return tokens


_thread_state = threading.local()


def _stemmer() -> Stemmer.Stemmer:
    # PyStemmer objects are documented as not thread-safe: one per thread.
    stemmer = getattr(_thread_state, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = Stemmer.Stemmer("french")
        _thread_state.stemmer = stemmer
    return stemmer


@lru_cache(maxsize=200_000)
def _term(token: str) -> str:
    """Index term for one token, or "" when the token must be dropped.

    Cached because news vocabulary is small and Zipfian: almost every token is
    a cache hit, which is what makes ``analyze`` fast.
    """
    folded = fold_accents(token)
    if folded in STOP_WORDS:
        return ""
    if len(token) == 1 and not token.isdigit():
        return ""
    if any(ch.isdigit() for ch in token):
        return folded  # stemming "2025" or "g7" can only damage them
    # Snowball's French rules expect accents (é, è...), so stem before folding.
    return fold_accents(_stemmer().stemWord(token))


def analyze(text: str) -> list[str]:
    """Terms for the BM25 index and queries: tokens minus stop words, stemmed, folded."""
    terms: list[str] = []
    for token in tokenize(text):
        term = _term(token)
        if term:
            terms.append(term)
    return terms


def content_terms(text: str) -> list[str]:
    """Distinct ``analyze`` terms in first-seen order."""
    return list(dict.fromkeys(analyze(text)))


# Frequent function words that do not exist (or are rare) in the other language;
# shared spellings like "on", "a", "son", "as" would only blur the vote.
_FRENCH_MARKERS = frozenset(
    [
        "le", "la", "les", "de", "des", "du", "et", "est", "une", "un", "dans",
        "pour", "que", "qui", "sur", "pas", "au", "aux", "avec", "il", "elle", "ce",
        "se", "sa", "ses", "ont", "sont", "par", "mais", "ne", "nous", "vous",
        "cette", "leur",
    ]
)  # fmt: skip
_ENGLISH_MARKERS = frozenset(
    [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "with", "was",
        "are", "be", "by", "this", "have", "from", "at", "not", "which", "were",
        "has", "been", "they", "their", "would", "will",
    ]
)  # fmt: skip
_LANGUAGE_SAMPLE_CHARS = 2000
_MIN_WORDS = 5
_MIN_MARKERS = 3


def guess_language(text: str) -> str:
    """ "fr", "en" or "und" from stop-word frequencies in the start of ``text``."""
    tokens = tokenize(text[:_LANGUAGE_SAMPLE_CHARS])
    if len(tokens) < _MIN_WORDS:
        return "und"
    french = sum(token in _FRENCH_MARKERS for token in tokens)
    english = sum(token in _ENGLISH_MARKERS for token in tokens)
    # Require a 2:1 margin so mixed or quote-heavy text stays undetermined.
    if french >= _MIN_MARKERS and french >= 2 * english:
        return "fr"
    if english >= _MIN_MARKERS and english >= 2 * french:
        return "en"
    return "und"

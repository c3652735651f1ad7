"""French-aware sentence splitting and token-bounded chunking with exact offsets.

Offsets always point into the original document text so that answers can be
quoted and highlighted verbatim; nothing here rewrites the text.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "CHUNKING_VERSION",
    "Chunk",
    "Span",
    "chunk_spans",
    "is_abbreviation",
    "is_heading_line",
    "split_sentences",
]

CHUNKING_VERSION: str = "1"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # "sentence" or "heading"


@dataclass(frozen=True)
class Chunk:
    ordinal: int
    start: int
    end: int
    text: str  # always == document_text[start:end]


# --- headings ---------------------------------------------------------------

_DASHES = "-\u2013\u2014"  # - – —
_HEADING_MAX_CHARS = 120
_MARKDOWN_HEADING_RE = re.compile(r"#{1,6}\s+\S")


def is_heading_line(line: str) -> bool:
    """True for intertitles (``- Titre -``), Markdown headings and short all-caps lines."""
    line = line.strip()
    if not line:
        return False
    if _MARKDOWN_HEADING_RE.match(line):
        return True
    if len(line) > _HEADING_MAX_CHARS:
        return False
    if (
        len(line) >= 3
        and line[0] in _DASHES
        and line[-1] in _DASHES
        and any(ch.isalnum() for ch in line)
    ):
        return True
    letters = [ch for ch in line if ch.isalpha()]
    return len(letters) >= 2 and all(ch.isupper() for ch in letters)


# --- sentences --------------------------------------------------------------

# Every line break ends a sentence, so lines are the unit of work.
_LINE_RE = re.compile(r"[^\n\r\u2028\u2029\x85\x0b\x0c]+")

# A terminator run plus the closing quotes/brackets that belong to it; French
# typography puts a space before "»", so that one may be detached.
_TERMINATOR_RE = re.compile(r"([.!?\u2026]+)(?:[\"\u201d)\]]|\s*\u00bb)*")

_SENTENCE_OPENERS = '\u00ab"\u201c' + _DASHES  # « " “ and dashes

# Compared case-sensitively: "M." is a title, "m." is a unit.
_TITLE_ABBREVIATIONS = frozenset(
    [
        "M", "MM", "Mme", "Mmes", "Mlle", "Mlles", "Mgr", "Mgrs", "Dr", "Drs", "Pr",
        "Me", "St", "Ste", "Sts", "Stes",
    ]
)  # fmt: skip
# Compared lowercased. Absent on purpose: "sept" (also the number seven) and
# "etc" (it ends sentences; the lowercase-follows rule covers the other case).
_ABBREVIATIONS = frozenset(
    [
        "av", "apr", "cf", "env", "vol", "vols", "éd", "p", "pp", "art", "chap",
        "fig", "ibid", "op", "cit", "coll", "dir", "trad", "réf", "ref", "tél",
        "n°", "bd", "boul", "janv", "févr", "fevr", "avr", "juil", "oct", "nov",
        "déc",
    ]
)  # fmt: skip
_INITIALS_RE = re.compile(r"(?:[^\W\d_]\.-?)*[^\W\d_]")
_LEADING_PUNCT = "\u00ab\"\u201c([{'\u2018\u2019" + _DASHES

# A quote left open longer than this is treated as a stray mark.
QUOTE_MAX_CHARS = 1000


def split_sentences(text: str, body_start: int = 0) -> list[Span]:
    """Sentence and heading spans over ``text[body_start:]``, offsets absolute, trimmed."""
    if not 0 <= body_start <= len(text):
        raise ValueError(f"body_start {body_start} outside text of length {len(text)}")
    spans: list[Span] = []
    for match in _LINE_RE.finditer(text, body_start):
        start, end = _trim(text, match.start(), match.end())
        if start == end:
            continue
        line = text[start:end]
        if is_heading_line(line):
            spans.append(Span(start, end, "heading"))
            continue
        for piece_start, piece_end in _split_line(line):
            spans.append(Span(start + piece_start, start + piece_end, "sentence"))
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _split_line(line: str) -> list[tuple[int, int]]:
    """Trimmed, non-empty sentence ranges of one paragraph, relative to ``line``."""
    cuts = _sentence_cuts(line)
    pieces: list[tuple[int, int]] = []
    for start, end in zip([0, *cuts], [*cuts, len(line)], strict=True):
        start, end = _trim(line, start, end)
        if start < end:
            pieces.append((start, end))
    return pieces


def _sentence_cuts(line: str) -> list[int]:
    quotes = _quote_regions(line)
    cuts: list[int] = []
    for match in _TERMINATOR_RE.finditer(line):
        cut = match.end()
        if cut >= len(line) or not line[cut].isspace():
            continue
        if not _starts_sentence(line, cut):
            continue
        terminator_start = match.start(1)
        if terminator_start > 0 and line[terminator_start - 1] in "[(":
            continue  # elision marks like "[...]" sit mid-sentence
        if match.group(1) == "." and is_abbreviation(line, terminator_start):
            continue
        if any(open_at < cut < close_after for open_at, close_after in quotes):
            continue
        cuts.append(cut)
    return cuts


def _starts_sentence(line: str, pos: int) -> bool:
    while pos < len(line) and line[pos].isspace():
        pos += 1
    if pos == len(line):
        return True
    char = line[pos]
    return char.isupper() or char.isdigit() or char in _SENTENCE_OPENERS


def is_abbreviation(line: str, dot: int) -> bool:
    """Whether the period at ``dot`` closes an abbreviation or an initial."""
    # The whitespace-free run just before the dot. Taken with rsplit: re.search(r"\S+$") tried
    # every start position of the line, for every period, and was half the sentence splitting.
    before = line[:dot]
    if not before or before[-1].isspace():
        return False
    word = before.rsplit(None, 1)[-1]
    word_start = dot - len(word)
    word = word.lstrip(_LEADING_PUNCT)
    if not word:
        return False
    if word in _TITLE_ABBREVIATIONS or word.lower() in _ABBREVIATIONS:
        return True
    if word.lower() == "sept":
        # "12 sept. 2024" is a date, "Ils étaient sept. Puis..." is a sentence end.
        return _previous_word(line, word_start).isdigit()
    if (
        word == "J.-C"
        and _previous_word(line, word_start).lower() in _ERA_WORDS
    ):
        return False  # "52 av. J.-C. Les Gaulois..." ends a sentence
    # Initials: "J. K. Rowling", "F. Hollande", "J.-C. Juncker"; lowercase
    # letters are real one-letter words ("a", "y") that can end a sentence.
    return bool(_INITIALS_RE.fullmatch(word)) and word[-1].isupper()


_ERA_WORDS = frozenset(["av.", "apr.", "avant", "après"])


def _previous_word(line: str, end: int) -> str:
    before = line[:end].split()
    return before[-1] if before else ""


def _quote_regions(line: str) -> list[tuple[int, int]]:
    """(open index, index after close) for every quotation in ``line``.

    A quote still open at the end of the paragraph extends to its end; any
    region longer than ``QUOTE_MAX_CHARS`` is dropped as an unbalanced mark.
    """
    closers = {"\u00ab": "\u00bb", "\u201c": "\u201d"}
    stack: list[tuple[str, int]] = []  # (expected closer, open index)
    regions: list[tuple[int, int]] = []
    for match in re.finditer('["\u00ab\u00bb\u201c\u201d]', line):
        char, index = match.group(), match.start()
        if char in closers:
            stack.append((closers[char], index))
            continue
        depth = _find_open(stack, char)
        if depth is not None:
            regions.append((stack[depth][1], index + 1))
            del stack[depth:]
        elif char == '"' and _straight_quote_opens(line, index):
            stack.append(('"', index))
    regions.extend((open_at, len(line) + 1) for _, open_at in stack)
    return [(a, b) for a, b in regions if b - a <= QUOTE_MAX_CHARS]


def _find_open(stack: list[tuple[str, int]], closer: str) -> int | None:
    for depth in range(len(stack) - 1, -1, -1):
        if stack[depth][0] == closer:
            return depth
    return None


def _straight_quote_opens(line: str, index: int) -> bool:
    # A straight quote glued to the end of a word ('américain" -') is a stray
    # closer; treating it as an opener would swallow the rest of the paragraph.
    before = line[index - 1] if index > 0 else " "
    after = line[index + 1] if index + 1 < len(line) else " "
    if after.isspace():
        return False
    return not (before.isalnum() or before in ".,;:!?\u2026")


# --- chunks -----------------------------------------------------------------


def chunk_spans(
    text: str,
    spans: list[Span],
    max_tokens: int,
    count_tokens: Callable[[str], int],
    overlap_sentences: int = 1,
    count_range: Callable[[int, int], int] | None = None,
) -> list[Chunk]:
    """Group consecutive spans into chunks of at most ``max_tokens`` tokens.

    Headings open a new chunk; consecutive chunks share up to
    ``overlap_sentences`` trailing sentences when they still fit. ``count_range(start, end)``,
    when given, counts ``text[start:end]`` faster (e.g. from precomputed sentence counts).
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")

    def count(start: int, end: int) -> int:
        if count_range is not None:
            return count_range(start, end)
        return count_tokens(text[start:end])

    def fits(start: int, end: int) -> bool:
        return count(start, end) <= max_tokens

    units: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, s.end)):
        units.extend(_split_oversized(text, span, max_tokens, count))

    groups: list[list[Span]] = []
    current: list[Span] = []
    for unit in units:
        if not current:
            current = [unit]
        elif unit.kind == "heading" and any(u.kind != "heading" for u in current):
            # New section: no overlap, the previous section's tail is off-topic.
            groups.append(current)
            current = [unit]
        elif fits(current[0].start, unit.end):
            current.append(unit)
        else:
            groups.append(current)
            current = _start_with_overlap(current, unit, overlap_sentences, fits)
    if current:
        groups.append(current)

    return [
        Chunk(
            ordinal, group[0].start, group[-1].end, text[group[0].start : group[-1].end]
        )
        for ordinal, group in enumerate(groups)
    ]


def _start_with_overlap(
    previous: list[Span],
    unit: Span,
    overlap_sentences: int,
    fits: Callable[[int, int], bool],
) -> list[Span]:
    # Never reuse the whole previous chunk: the new chunk must start later,
    # which guarantees progress.
    for count in range(min(overlap_sentences, len(previous) - 1), 0, -1):
        tail = previous[-count:]
        if any(span.kind != "sentence" for span in tail):
            continue
        if fits(tail[0].start, unit.end):
            return [*tail, unit]
    return [unit]


# No piece is searched for beyond this many characters per token of budget. A subword token is a
# few characters (e5's longest piece is 16 bytes); without the cap, splitting a 3 MB "word" with a
# unigram tokenizer tokenised megabytes at every probe of the binary search (minutes, writer lock
# held). Only pathological text is cut shorter than its token budget by it.
MAX_CHARS_PER_TOKEN = 24


def _split_oversized(
    text: str, span: Span, max_tokens: int, count: Callable[[int, int], int]
) -> list[Span]:
    """``span`` itself, or whitespace-delimited pieces of it that each fit."""
    cap = max_tokens * MAX_CHARS_PER_TOKEN
    if span.end - span.start <= cap and count(span.start, span.end) <= max_tokens:
        return [span]
    words = [
        (span.start + m.start(), span.start + m.end())
        for m in re.finditer(r"\S+", text[span.start : span.end])
    ]

    def pack(budget: int) -> list[Span]:
        return _pack_words(words, span.kind, lambda s, e: e - s <= cap and count(s, e) <= budget, cap)

    # Greedy packing at full budget leaves a runt at the end ("... en 2022.");
    # the smallest budget that needs no more pieces gives even-sized pieces.
    best = pack(max_tokens)
    low, high = 1, max_tokens
    while low < high:
        budget = (low + high) // 2
        candidate = pack(budget)
        if len(candidate) <= len(best):
            best, high = candidate, budget
        else:
            low = budget + 1
    return best


def _pack_words(
    words: list[tuple[int, int]], kind: str, fits: Callable[[int, int], bool], cap: int
) -> list[Span]:
    pieces: list[Span] = []
    first = 0
    while first < len(words):
        word_start, word_end = words[first]
        if not fits(word_start, word_end):
            pieces.extend(_split_word(word_start, word_end, kind, fits, cap))
            first += 1
            continue
        # Only words ending within `cap` characters can fit: search among those.
        reach = bisect.bisect_right(words, word_start + cap, key=lambda w: w[1]) - 1
        last = _last_fitting(
            first, max(first, reach), lambda i, start=word_start: fits(start, words[i][1])
        )
        pieces.append(Span(word_start, words[last][1], kind))
        first = last + 1
    return pieces


def _split_word(
    start: int, end: int, kind: str, fits: Callable[[int, int], bool], cap: int
) -> list[Span]:
    # Last resort for a single "word" (URL, table row...) over budget.
    pieces: list[Span] = []
    while start < end:
        piece_end = _last_fitting(start + 1, min(end, start + cap), lambda i, s=start: fits(s, i))
        pieces.append(Span(start, piece_end, kind))
        start = piece_end
    return pieces


def _last_fitting(low: int, high: int, fits_up_to: Callable[[int], bool]) -> int:
    """Largest i in [low, high] with fits_up_to(i), assuming low is acceptable.

    Binary search keeps token counting to O(log n) calls per piece; ``low`` is
    returned even if it does not fit so callers always make progress.
    """
    while low < high:
        middle = (low + high + 1) // 2
        if fits_up_to(middle):
            low = middle
        else:
            high = middle - 1
    return low

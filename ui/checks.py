"""Types and sizes of what a caller sends to /ask (and the chat), checked before any search runs.

A raw HTTP call can send anything JSON holds; without this a number as the question or 100,000
sources reached the pipeline and Chroma ("too many SQL variables"). The message follows the
question's language (both languages when the question is not text).
"""

from __future__ import annotations

from typing import Any

QUESTION_MAX_CHARS = 2_000
SOURCES_MAX = 50
SOURCE_MAX_CHARS = 200
HISTORY_MAX = 50
DATE_MAX_CHARS = 32

MESSAGES = {
    "en": {
        "question_type": "The question must be text.",
        "question_long": "The question is too long: {n} characters, at most {max}.",
        "date_type": "{field} must be text such as 2025-03, or empty.",
        "sources_type": "sources must be a list of agency names (text), or empty.",
        "sources_many": "Too many sources: {n}, at most {max}.",
        "source_long": "A source name is too long: at most {max} characters.",
        "history_type": "history must be a list of earlier questions (text), or empty.",
        "history_many": "The history is too long: {n} questions, at most {max}.",
    },
    "fr": {
        "question_type": "La question doit être du texte.",
        "question_long": "La question est trop longue : {n} caractères, au plus {max}.",
        "date_type": "{field} doit être du texte comme 2025-03, ou vide.",
        "sources_type": "sources doit être une liste de noms d’agences (du texte), ou vide.",
        "sources_many": "Trop de sources : {n}, au plus {max}.",
        "source_long": "Un nom de source est trop long : au plus {max} caractères.",
        "history_type": "history doit être une liste de questions précédentes (du texte), ou vide.",
        "history_many": "L’historique est trop long : {n} questions, au plus {max}.",
    },
}


class RequestProblem(ValueError):
    """A request the assistant cannot take, with its message in the question's language."""


def ask_arguments(question: Any, date_from: Any = "", date_to: Any = "", sources: Any = None,
                  history: Any = None) -> tuple[str, str, str, list[str], list[str]]:
    """The arguments checked and normalised (stripped dates, distinct sources); RequestProblem otherwise."""
    if not isinstance(question, str):
        raise RequestProblem(f"{MESSAGES['en']['question_type']} / {MESSAGES['fr']['question_type']}")
    from assistant.answer import question_language

    lang = question_language(question[:QUESTION_MAX_CHARS])

    def fail(key: str, **values: Any) -> RequestProblem:
        return RequestProblem(MESSAGES[lang][key].format(**values))

    if len(question) > QUESTION_MAX_CHARS:
        raise fail("question_long", n=len(question), max=QUESTION_MAX_CHARS)
    dates = []
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if value is None:
            value = ""
        if not isinstance(value, str) or len(value) > DATE_MAX_CHARS:
            raise fail("date_type", field=name)
        dates.append(value.strip())
    names = _strings(sources, SOURCES_MAX, SOURCE_MAX_CHARS, fail, "sources_type", "sources_many", "source_long")
    earlier = _strings(history, HISTORY_MAX, QUESTION_MAX_CHARS, fail, "history_type", "history_many",
                       "question_long")
    return question, dates[0], dates[1], list(dict.fromkeys(n.strip() for n in names if n.strip())), earlier


def _strings(value: Any, most: int, longest: int, fail: Any, bad_type: str, too_many: str,
             too_long: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise fail(bad_type)
    if len(value) > most:
        raise fail(too_many, n=len(value), max=most)
    if not all(isinstance(item, str) for item in value):
        raise fail(bad_type)
    for item in value:
        if len(item) > longest:
            raise fail(too_long, n=len(item), max=longest)
    return list(value)

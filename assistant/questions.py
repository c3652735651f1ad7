"""Question sets for `eval` and `bench query`: PIAF, known-item and generic JSONL files, read and checked.

A malformed file is refused with its path, line and reason (EvalError), never half-read.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.errors import DispatchQAError


class EvalError(DispatchQAError, ValueError):
    """The questions or corpus file cannot be used; the message names the file and why."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...] = ()
    relevant_doc_ids: tuple[str, ...] = ()


@dataclass
class QuestionSet:
    format: str  # "piaf" | "known-item" | "generic"
    questions: list[Question] = field(default_factory=list)

    @property
    def drop_titles(self) -> bool:
        # A headline query against its own article's title would be a string match, not retrieval.
        return self.format == "known-item"


# -- loading -----------------------------------------------------------------------------------

def detect_format(record: dict[str, Any]) -> str:
    if "context_id" in record and "question" in record:
        return "piaf"
    if "query" in record and "relevant_doc_ids" in record:
        return "known-item"
    if "question" in record:
        return "generic"
    raise EvalError("expected `question` (generic or PIAF) or `query` + `relevant_doc_ids` (known-item)")


def load_questions(path: Path) -> QuestionSet:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalError(f"{path}: no such questions file") from None
    except UnicodeDecodeError:
        raise EvalError(f"{path}: not UTF-8 text") from None
    qset: QuestionSet | None = None
    seen: set[str] = set()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{where}: malformed JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise EvalError(f"{where}: expected a JSON object")
        if qset is None:
            try:
                qset = QuestionSet(format=detect_format(record))
            except EvalError as exc:
                raise EvalError(f"{where}: {exc}") from None
        q = _question(record, qset.format, where, len(qset.questions))
        if q.id in seen:
            raise EvalError(f"{where}: duplicate question id '{q.id}'")
        seen.add(q.id)
        qset.questions.append(q)
    if qset is None or not qset.questions:
        raise EvalError(f"{path}: no questions")
    return qset


def _question(record: dict[str, Any], fmt: str, where: str, n: int) -> Question:
    text = record.get("query" if fmt == "known-item" else "question")
    if not isinstance(text, str) or not text.strip():
        key = "query" if fmt == "known-item" else "question"
        raise EvalError(f"{where}: `{key}` must be a non-empty string")
    answers = _str_list(record.get("answers"), "answers", where)
    if fmt == "piaf":
        if not record.get("context_id"):
            raise EvalError(f"{where}: `context_id` is empty")
        relevant = (str(record["context_id"]),)
    else:
        relevant = _str_list(record.get("relevant_doc_ids"), "relevant_doc_ids", where)
    qid = str(record.get("id") or f"q{n + 1}")
    return Question(id=qid, question=text.strip(), answers=answers, relevant_doc_ids=relevant)


def _str_list(value: Any, name: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise EvalError(f"{where}: `{name}` must be a list of strings")
    return tuple(str(v) for v in value if str(v).strip())


def sample(questions: list[Question], limit: int | None, seed: int | None) -> list[Question]:
    """A reproducible subset: shuffled by seed when one is given, else the file's first N."""
    out = list(questions)
    if seed is not None:
        random.Random(seed).shuffle(out)
    return out[:limit] if limit else out


def drop_title(dispatch: Any) -> Any:
    from index.dispatch import dispatch_hash

    bare = replace(dispatch, title=None)
    return replace(bare, content_hash=dispatch_hash(bare))


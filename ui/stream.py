"""Streaming answers: any source of text deltas followed by one final Answer.

The chat consumes an iterator of events: `str` pieces of answer text as they come, then the
final answer object (anything that is not a `str`, normally `assistant.answer.Answer`), as
`Pipeline.ask_stream` yields them. An extractive answer is complete at once (no deltas), so
`extractive_events` replays it word group by word group. The final answer is what the chat
keeps and renders: a generated text that verification changed is replaced by the verified one.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

WORDS_PER_DELTA = 4
PAUSE_SECONDS = 0.02  # lets the browser paint each delta of an answer that is ready at once


def extractive_events(answer: Any, words: int = WORDS_PER_DELTA, pause: float = PAUSE_SECONDS) -> Iterator[Any]:
    """Replay a finished answer's text as deltas of a few words, then yield the answer itself."""
    pieces = re.findall(r"\s*\S+", answer.answer or "")
    for i in range(0, len(pieces), max(1, words)):
        if i and pause > 0:
            time.sleep(pause)
        yield "".join(pieces[i:i + words])
    yield answer


def accumulate(events: Iterable[Any]) -> Iterator[tuple[str, Any | None]]:
    """(text so far, None) for each delta, then (text so far, final answer) once; the stream ends there."""
    text = ""
    for event in events:
        if isinstance(event, str):
            text += event
            yield text, None
        else:
            yield text, event
            return
    raise RuntimeError("the answer stream ended without a final answer")


def answer_events(pipeline: Any, question: str, filters: Any, history: list[str]) -> Iterator[Any]:
    """The pipeline's stream (`ask_stream`, or `ask` when it has none); an answer that arrives
    whole, without deltas (extractive), is replayed word group by word group."""
    stream = getattr(pipeline, "ask_stream", None)
    if callable(stream):
        events = stream(question, filters=filters, history=history)
    else:
        events = iter([pipeline.ask(question, filters=filters, history=history)])
    streamed = False
    for event in events:
        if isinstance(event, str):
            streamed = True
            yield event
            continue
        if streamed:
            yield event
        else:
            yield from extractive_events(event)
        return

"""The OpenAI chat-completions wire format, both ways, as pure functions (no server, no pipeline).

In: a request body -> the question, the earlier questions (for follow-ups) and the filters.
Out: an answer (the `ask --json` object) -> the assistant message's text (answer, then the
sources), a `chat.completion` object, and the `chat.completion.chunk` objects of a stream.
Every refusal is an `ApiError`, serialised in OpenAI's error shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ui.checks import HISTORY_MAX, RequestProblem, ask_arguments

MODEL_ID = "dispatch-qa"
MESSAGES_MAX = 400  # a long chat's whole transcript (user and assistant turns) still fits
CHUNK_WORDS = 4  # words per content delta when a finished answer is streamed

_DATE_RE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")
_LABELS = {
    "en": {"sources": "Sources:", "undated": "undated", "no_agency": "agency not stated",
           "bad_date": "{field} must be a date such as 2025, 2025-03 or 2025-03-14, not '{value}'."},
    "fr": {"sources": "Sources :", "undated": "non datée", "no_agency": "agence non indiquée",
           "bad_date": "{field} doit être une date comme 2025, 2025-03 ou 2025-03-14, pas « {value} »."},
}


class ApiError(Exception):
    """A refused request: HTTP status and OpenAI's {"error": {message, type, param, code}}."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.message = message
        self.kind = kind
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


def bad_request(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code=code)


@dataclass(frozen=True)
class ChatRequest:
    question: str
    history: list[str] = field(default_factory=list)   # earlier user messages, oldest first
    date_from: str | None = None
    date_to: str | None = None
    sources: tuple[str, ...] = ()
    stream: bool = False


# -- request -----------------------------------------------------------------------------------

def message_text(content: Any, index: int) -> str:
    """A message's text: a string, or OpenAI's list of parts of which only text parts are taken."""
    param = f"messages[{index}].content"
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise bad_request("Only text content parts are supported.", param)
            texts.append(part["text"])
        return "\n".join(texts)
    raise bad_request("A message's content must be a string or a list of text parts.", param)


def user_turns(messages: Any) -> list[str]:
    """The user messages' texts, in order; system, developer and assistant messages are not questions."""
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list of {role, content} objects.", "messages")
    if len(messages) > MESSAGES_MAX:
        raise bad_request(f"Too many messages: {len(messages)}, at most {MESSAGES_MAX}.", "messages")
    turns: list[str] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise bad_request("Each message must be an object with a string role.", f"messages[{i}]")
        if message["role"] == "user":
            turns.append(message_text(message.get("content"), i).strip())
    last = messages[-1]
    if last.get("role") != "user" or not turns[-1:] or not turns[-1]:
        raise bad_request("The last message must be the user's question, with text.", "messages")
    return turns


def parse_chat_request(body: Any) -> ChatRequest:
    """A chat-completions body -> ChatRequest; ApiError naming the field otherwise.

    The last user message is the question; the earlier user messages are the conversation it
    may follow up on (the pipeline decides whether it does). Other OpenAI fields (temperature,
    max_tokens...) are accepted and ignored: the answer is quoted, not sampled.
    """
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("model is required: use 'dispatch-qa'.", "model")
    if model != MODEL_ID:
        raise ApiError(404, f"The model '{model[:100]}' does not exist: this server has 'dispatch-qa'.",
                       param="model", code="model_not_found")
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise bad_request("stream must be true or false.", "stream")
    turns = user_turns(body.get("messages"))
    question, history = turns[-1], [t for t in turns[:-1] if t][-HISTORY_MAX:]
    request = checked_question(question, body.get("date_from"), body.get("date_to"), body.get("sources"), history)
    return ChatRequest(request.question, request.history, request.date_from, request.date_to, request.sources,
                       bool(stream))


def checked_question(question: Any, date_from: Any, date_to: Any, sources: Any, history: Any) -> ChatRequest:
    """A question and its filters as any door receives them (the OpenAI API, the MCP tools) -> ChatRequest;
    a 400 ApiError naming the field, in the question's language, for a bad type, size or date."""
    try:
        question, date_from, date_to, sources, history = ask_arguments(question, date_from, date_to, sources,
                                                                       history)
    except RequestProblem as exc:
        raise bad_request(str(exc), _param_named_in(str(exc))) from None
    lang = _language(question)
    for name, value in (("date_from", date_from), ("date_to", date_to)):
        if value and not _valid_date(value):
            raise bad_request(_LABELS[lang]["bad_date"].format(field=name, value=value), name, "invalid_date")
    return ChatRequest(question, history, date_from or None, date_to or None, tuple(sources))


def _valid_date(value: str) -> bool:
    from index.dates import date_range

    return bool(_DATE_RE.match(value)) and date_range(value) is not None


def _param_named_in(message: str) -> str:
    for name in ("date_from", "date_to", "sources", "history"):
        if name in message:
            return "messages" if name == "history" else name
    return "messages"


def _language(question: str) -> str:
    from assistant.language import question_language

    return question_language(question)


# -- response ----------------------------------------------------------------------------------

def answer_content(answer: dict[str, Any]) -> str:
    """The assistant message: the answer with its [n] markers, then one entry per citation
    (marker, title, date, agency, then the quote), labelled in the answer's language."""
    labels = _LABELS.get(answer.get("language") or "fr", _LABELS["fr"])
    parts = [(answer.get("answer") or "").strip()]
    citations = answer.get("citations") or []
    if citations:
        parts.append(labels["sources"])
    for c in citations:
        title = " ".join((c.get("title") or c.get("doc_id") or "").split())
        meta = " — ".join((title, c.get("date") or labels["undated"], c.get("source") or labels["no_agency"]))
        quote = " ".join((c.get("quote") or "").split())
        parts.append(f"[{c.get('marker')}] {meta}\n« {quote} »")
    return "\n\n".join(p for p in parts if p)


def content_pieces(content: str, words: int = CHUNK_WORDS) -> list[str]:
    """The content cut into deltas of a few words; joined back they are the content exactly."""
    pieces = re.findall(r"\s*\S+", content)
    groups = ["".join(pieces[i:i + words]) for i in range(0, len(pieces), max(1, words))]
    tail = content[len("".join(groups)):]  # trailing whitespace
    if tail:
        groups.append(tail)
    return groups


def completion(answer: dict[str, Any], completion_id: str, created: int) -> dict[str, Any]:
    """A `chat.completion`; `citations` carries the full citation objects, as `ask --json` does."""
    return {
        "id": completion_id, "object": "chat.completion", "created": created, "model": MODEL_ID,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": answer_content(answer)},
                     "finish_reason": "stop", "logprobs": None}],
        "citations": answer.get("citations") or [],
        "follow_up_of": answer.get("follow_up_of"),
    }


def chunk(completion_id: str, created: int, delta: dict[str, Any], finish_reason: str | None = None,
          **extra: Any) -> dict[str, Any]:
    """One `chat.completion.chunk` of a stream."""
    return {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": MODEL_ID,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}], **extra}


def stream_chunks(answer: dict[str, Any], completion_id: str, created: int) -> list[dict[str, Any]]:
    """The content deltas of a finished answer, then the closing chunk carrying the citations."""
    deltas = [chunk(completion_id, created, {"content": piece}) for piece in content_pieces(answer_content(answer))]
    closing = chunk(completion_id, created, {}, "stop", citations=answer.get("citations") or [],
                    follow_up_of=answer.get("follow_up_of"))
    return [*deltas, closing]


def model_object(created: int) -> dict[str, Any]:
    return {"id": MODEL_ID, "object": "model", "created": created, "owned_by": "dispatch-qa"}

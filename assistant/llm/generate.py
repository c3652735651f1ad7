"""The Generator: the model writes from the prompt, its text is sanitised as it streams, then each
sentence is checked against the passages it cites. If the model fails, times out, or writes nothing
the passages support, the extractive answer is returned with the reason.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from assistant.answer import Answer, AnswerSentence, Citation
from assistant.date_mentions import quote_dates
from assistant.llm.backends import LLMConfigError, LLMOptions, LLMUnavailable, build_llm, describe_failure, probe
from assistant.llm.markdown import MarkdownStream, urls_in
from assistant.llm.prompt import Source, build_messages, looks_like_instruction, new_tag
from assistant.verify import (
    CheckedClaim,
    Evidence,
    Verifier,
    check_claims,
    passage_evidence,
    split_claims,
)


@dataclass(frozen=True)
class GenerationConfig:
    """What the model is asked to write."""

    max_sentences: int

    @classmethod
    def from_settings(cls, settings: Any) -> GenerationConfig:
        # The one place settings shape the request: a generative answer gets the sentence budget of an
        # extractive one, so switching `llm` on does not lengthen answers.
        return cls(max_sentences=settings.answer_max_sentences)


class Generator:
    """Owns the model client; one per Pipeline, shared by concurrent questions."""

    def __init__(self, options: LLMOptions, embed: Callable[[list[str]], Any] | None,
                 config: GenerationConfig) -> None:
        self.options = options
        self.embed = embed
        self.config = config
        self._llm: Any = None
        self._build_lock = threading.Lock()
        # llama.cpp's in-process model is not re-entrant; servers queue requests themselves.
        self._run_lock = threading.Lock() if options.backend == "llama-cpp" else None

    @classmethod
    def from_settings(cls, settings: Any, embed: Callable[[list[str]], Any] | None) -> Generator:
        return cls(LLMOptions.from_settings(settings), embed, GenerationConfig.from_settings(settings))

    @property
    def llm(self) -> Any:
        with self._build_lock:
            if self._llm is None:
                self._llm = build_llm(self.options)
            return self._llm

    def check(self) -> str | None:
        """Start-up check: configuration errors raise, an unreachable server is a message."""
        llm = self.llm
        return probe(self.options, llm)

    def deltas(self, messages: list[Any]) -> Iterator[str]:
        """Raw text deltas; any failure or the time limit raises LLMUnavailable."""
        deadline = time.monotonic() + self.options.timeout
        lock = self._run_lock
        if lock is not None and not lock.acquire(timeout=self.options.timeout):
            raise LLMUnavailable(f"the local model stayed busy for {self.options.timeout:g} s")
        stream = None
        try:
            stream = self.llm.stream_chat(messages)
            for chunk in stream:
                if time.monotonic() > deadline:
                    raise LLMUnavailable(f"no complete answer within {self.options.timeout:g} s")
                if chunk.delta:
                    yield chunk.delta
        except (LLMUnavailable, LLMConfigError):
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the client raised becomes a fallback reason
            raise LLMUnavailable(describe_failure(exc, self.options)) from exc
        finally:
            # A reader who stops early (closed chat tab, timeout) must not leave the request running.
            close = getattr(stream, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001 - already failing or finished; nothing to report
                    pass
            if lock is not None:
                lock.release()

    def stream(self, question: str, sources: list[Source], extractive: Answer, history: Sequence[str] = (),
               term_weights: Callable[[list[str]], dict[str, float]] | None = None) -> Iterator[str | Answer]:
        """Deltas while the model writes, then the verified Answer (or the extractive one with the reason)."""
        allowed = frozenset(u for s in sources for u in urls_in(s.doc_text) | urls_in(s.source_path))
        messages = build_messages(question, sources, extractive.language, new_tag(),
                                  max_sentences=self.config.max_sentences, history=history)
        md = MarkdownStream(allowed)
        text = ""
        try:
            for delta in self.deltas(messages):
                safe = md.feed(delta)
                text += safe
                if safe:
                    yield safe
        except LLMUnavailable as exc:
            yield fallback(extractive, f"the language model did not answer ({exc})")
            return
        tail = md.flush()
        text += tail
        if tail:
            yield tail
        yield self.verified(question, text, sources, extractive, term_weights)

    def verified(self, question: str, text: str, sources: list[Source], extractive: Answer,
                 term_weights: Callable[[list[str]], dict[str, float]] | None = None) -> Answer:
        by_number = {s.number: s for s in sources}
        claims = split_claims(text, list(by_number))
        if not claims:
            return fallback(extractive, "the language model returned no answer")
        evidence = {n: _evidence(s) for n, s in by_number.items()}
        weights: dict[str, float] = {}
        if term_weights is not None:
            from index.french import analyze

            weights = term_weights(list(dict.fromkeys(t for c in claims for t in analyze(c.text))))
        checked = check_claims(Verifier(self.embed, term_weights=weights, question=question), claims, evidence)
        if not any(c.supported for c in checked):
            return fallback(extractive, "no sentence of the language model's answer is supported by the "
                                        "passages it cites")
        return _generative_answer(question, checked, by_number, evidence, extractive)


def _evidence(source: Source) -> Evidence:
    # Sentences addressed to a model are data to report, never proof of a statement.
    return passage_evidence(source.doc_text, source.start, source.end, source.title, source.body_start,
                            exclude=looks_like_instruction)


def fallback(extractive: Answer, reason: str) -> Answer:
    return replace(extractive, mode="extractive", fallback=True, fallback_reason=reason)


def _generative_answer(question: str, checked: list[CheckedClaim], sources: dict[int, Source],
                       evidence: dict[int, Evidence], extractive: Answer) -> Answer:
    order: dict[int, int] = {}  # prompt number -> citation marker, by first appearance
    for c in checked:
        for n in c.claim.markers:
            order.setdefault(n, len(order) + 1)
    citations: list[Citation] = []
    for n, marker in order.items():
        supports = [c.per_marker[n] for c in checked if n in c.per_marker]
        best = max(supports, key=lambda s: s.score)
        ev, src = evidence[n], sources[n]
        if ev.sentences:
            sent = ev.sentences[min(best.best_sentence, len(ev.sentences) - 1)]
            start, end = sent.start, sent.end
        else:
            start, end = src.start, src.end
        citations.append(Citation(marker=marker, doc_id=src.doc_id, source_path=src.source_path, title=src.title,
                                  date=src.date, source=src.source, quote=src.doc_text[start:end], start=start,
                                  end=end, score=round(float(best.score), 4),
                                  dates=quote_dates(src.doc_text, start, end, src.date)))
    sentences: list[AnswerSentence] = []
    parts: list[str] = []
    for c in checked:
        markers = [order[n] for n in c.claim.markers]
        sentences.append(AnswerSentence(text=c.claim.text, markers=markers, supported=c.supported))
        parts.append(c.claim.text + "".join(f" [{m}]" for m in markers))
    return Answer(question=question, answer=" ".join(parts), abstained=False, citations=citations, related=[],
                  mode="generative", fallback=False, fallback_reason=None, sentences=sentences,
                  language=extractive.language, retrieved_doc_ids=extractive.retrieved_doc_ids)

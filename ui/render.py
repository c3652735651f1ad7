"""Pure rendering for the web chat: answer dicts (Answer.to_dict()) and documents -> HTML or Markdown.

Everything that comes from a dispatch or a user goes through `esc`: it is shown as text, so no
markup, script, image or link in a dispatch is ever interpreted by the browser. The only tags
are the ones written here, and none of them loads anything.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from assistant.highlight import quote_parts
from ui.cards import card_html, meta_html
from ui.i18n import LANGUAGES
from ui.i18n import text as say
from ui.markup import esc, marker_button, sheet_close_button
from ui.quotes import quote_html
from ui.sides import disagreement_html

MARKER_RE = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
DISPATCH_VIEW_CHARS = 200_000  # longer texts are shown around the passage only

def t(lang: str, key: str, **values: Any) -> str:
    """A string of the interface table in an answer's language (French when it is neither)."""
    return say(lang if lang in LANGUAGES else "fr", key, **values)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _file_name(path: str | None) -> str:
    return Path(path).name if path else ""


# -- the answer ------------------------------------------------------------------------------

def answer_body_html(answer: dict[str, Any], turn: int) -> str:
    """The answer text with its markers as buttons; markers without a citation stay plain text.

    A generative answer is drawn sentence by sentence so the ones verification could not back
    with their cited passage are visibly marked; a fallback says why the model was not used.
    """
    known = {c["marker"] for c in answer.get("citations", []) if c.get("marker") is not None}
    lang = answer.get("language") or "fr"
    notice = ""
    if answer.get("follow_up_of"):
        # One click asks the same words again without the conversation, for when the reading was wrong.
        notice = (f'<div class="dq-notice dq-follow-up" role="status">'
                  f'{esc(t(lang, "follow_up", question=answer["follow_up_of"]))} '
                  f'<button type="button" class="dq-ask-alone" data-standalone="{esc(answer.get("question", ""))}">'
                  f'{esc(t(lang, "ask_alone"))}</button></div>')
    if answer.get("fallback"):
        notice += (f'<div class="dq-notice" role="status">{esc(t(lang, "fallback"))}'
                  f'{(" — " + esc(answer["fallback_reason"])) if answer.get("fallback_reason") else ""}</div>')
    sentences = answer.get("sentences") or []
    if answer.get("mode") == "generative" and sentences and not answer.get("abstained"):
        parts = []
        for sentence in sentences:
            body = _with_markers(sentence.get("text") or "", known, turn)
            if sentence.get("supported"):
                parts.append(f'<span class="dq-sentence">{body}</span>')
            else:
                parts.append(f'<span class="dq-sentence dq-unsupported" title="{esc(t(lang, "unsupported"))}">'
                             f'{body}<span class="dq-flag">{esc(t(lang, "unsupported"))}</span></span>')
        return notice + " ".join(parts) + disagreement_html(answer, turn)
    citations = answer.get("citations") or []
    text = answer.get("answer") or ""
    if citations and text == " ".join(f"{_one_line(c.get('quote', ''))} [{c['marker']}]" for c in citations):
        # An extractive answer is its quotes: drawn from them, with the words that answer marked.
        return notice + " ".join(quote_html(c, lang) + " " + _with_markers(f"[{c['marker']}]", known, turn)
                                 for c in citations) + disagreement_html(answer, turn)
    return notice + _with_markers(text, known, turn) + disagreement_html(answer, turn)


def _with_markers(text: str, known: set[int], turn: int) -> str:
    out: list[str] = []
    pos = 0
    for m in MARKER_RE.finditer(text):
        out.append(esc(text[pos:m.start()]))
        numbers = [int(n) for n in re.findall(r"\d+", m.group(1))]
        if numbers and all(n in known for n in numbers):
            out.append("".join(marker_button(turn, n) for n in numbers))
        else:
            out.append(esc(m.group(0)))
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def partial_html(text: str) -> str:
    """A streaming answer so far: markers styled but inert until the answer is complete."""
    out: list[str] = []
    pos = 0
    for m in MARKER_RE.finditer(text):
        out.append(esc(text[pos:m.start()]))
        out.append(f'<span class="dq-cite dq-pending">{esc(m.group(1))}</span>')
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out) + '<span class="dq-caret"></span>'


def related_html(answer: dict[str, Any], turn: int, lang: str) -> str:
    """The related passages (not cited), under the answer: the one place they are listed."""
    items = answer.get("related") or []
    if not items:
        return ""
    cards = "".join(card_html(c, turn, "related", i, lang, t(lang, "related_short")) for i, c in enumerate(items))
    return (f'<div class="dq-related"><div class="dq-related-head">{esc(t(lang, "related"))}</div>'
            f'<div class="dq-related-cards">{cards}</div></div>')


def answer_markdown(answer: dict[str, Any]) -> str:
    """One answer as Markdown: question, answer with its markers, then each citation with its quote."""
    lang = answer.get("language") or "fr"
    lines = [f"**{t(lang, 'question')}:** {_one_line(answer.get('question', ''))}", "",
             f"**{t(lang, 'answer')}:** {answer.get('answer', '')}", ""]
    if answer.get("citations"):
        lines.append(f"**{t(lang, 'sources')}**")
        lines.append("")
        for c in answer["citations"]:
            lines += _markdown_source(f"[{c['marker']}]", c, lang)
    if answer.get("related"):
        lines.append(f"**{t(lang, 'related')}**")
        lines.append("")
        for c in answer["related"]:
            lines += _markdown_source("-", c, lang)
    return "\n".join(lines).rstrip() + "\n"


def _markdown_source(head: str, c: dict[str, Any], lang: str) -> list[str]:
    title = c.get("title") or c.get("doc_id")
    meta = " — ".join([title, c.get("date") or t(lang, "undated"), c.get("source") or t(lang, "no_agency")]
                      + ([say(lang, "speaker_md", speaker=c["speaker"])] if c.get("speaker") else []))
    return [f"{head} {meta}  ", f"`{_file_name(c.get('source_path'))}` [{c.get('start')}:{c.get('end')}]", "",
            f"> {_markdown_quote(c)}", ""]


def _markdown_quote(c: dict[str, Any]) -> str:
    before, mid, after = quote_parts(c.get("quote", ""), int(c.get("start", 0)), c.get("highlight"))
    return before + (f"**{mid.strip()}**" if mid.strip() else mid) + after


# -- the conversation ------------------------------------------------------------------------

def transcript_html(turns: list[dict[str, Any]], examples: list[str] | None = None) -> str:
    """The whole conversation. Each turn: {question, language, partial, answer (dict), error}."""
    if not turns:
        return empty_chat_html(examples or [])
    parts = ['<div class="dq-transcript">']
    for i, turn in enumerate(turns):
        lang = turn.get("language") or "fr"
        parts.append(f'<div class="dq-msg dq-user"><div class="dq-who">{esc(t(lang, "you"))}</div>'
                     f'<div class="dq-text">{esc(turn.get("question"))}</div></div>')
        parts.append(_assistant_html(turn, i, lang))
    parts.append("</div>")
    return "".join(parts)


def _assistant_html(turn: dict[str, Any], i: int, lang: str) -> str:
    head = f'<div class="dq-who">{esc(t(lang, "assistant"))}</div>'
    if turn.get("error"):
        return (f'<div class="dq-msg dq-bot dq-error" data-turn="{i}">{head}'
                f'<div class="dq-text" role="alert">{esc(turn["error"])}</div></div>')
    answer = turn.get("answer")
    if answer is None:
        partial = turn.get("partial") or ""
        body = partial_html(partial) if partial else f'<span class="dq-thinking">{esc(t(lang, "thinking"))}</span>'
        return f'<div class="dq-msg dq-bot dq-streaming" data-turn="{i}">{head}<div class="dq-text">{body}</div></div>'
    klass = "dq-abstained" if answer.get("abstained") else "dq-answered"
    actions = (f'<div class="dq-actions" data-md="{esc(answer_markdown(answer))}" data-name="answer-{i + 1}.md">'
               f'<button type="button" class="dq-action" data-copy="1" data-done="{esc(t(lang, "copied"))}">'
               f'{esc(t(lang, "copy"))}</button>'
               f'<button type="button" class="dq-action" data-download="1">{esc(t(lang, "download"))}</button></div>')
    scope = (f'<div class="dq-notice dq-scope" role="note">{esc(turn["scope"])}</div>'
             if turn.get("scope") else "")  # the filters the answer was given under (ui/filters.py)
    return (f'<div class="dq-msg dq-bot {klass}" data-turn="{i}">{head}{scope}'
            f'<div class="dq-text">{answer_body_html(answer, i)}</div>'
            f'{related_html(answer, i, lang)}{actions}</div>')


def empty_chat_html(examples: list[str], lang: str = "en") -> str:
    buttons = "".join(f'<button type="button" class="dq-example" data-example="{esc(q)}">{esc(q)}</button>'
                      for q in examples)
    return (f'<div class="dq-empty"><p>{esc(t(lang, "empty_chat"))}</p>'
            f'<p class="dq-examples-head">{esc(t(lang, "examples"))}</p>'
            f'<div class="dq-examples">{buttons}</div></div>')


# -- sources and the dispatch ----------------------------------------------------------------

def sources_html(answer: dict[str, Any] | None, turn: int, lang: str | None = None,
                 active: tuple[str, int] | None = None) -> str:
    """Every citation of one answer as a card; `active` = (kind, ref) of the card whose passage is open.
    Related passages are not repeated here: they are listed under the answer."""
    lang = lang or (answer or {}).get("language") or "en"
    if not answer or not answer.get("citations"):
        if answer and answer.get("related"):
            return f'<div class="dq-panel-empty">{esc(say(lang, "related_in_chat"))}</div>'
        return f'<div class="dq-panel-empty">{esc(t(lang, "no_sources"))}</div>'
    cards = [f'<div class="dq-sources-head">{esc(t(lang, "sources"))} — '
             f'<span class="dq-sources-q">{esc(answer.get("question"))}</span></div>']
    for c in answer["citations"]:
        cards.append(card_html(c, turn, "citation", c["marker"], lang, str(c["marker"]), active))
    return '<div class="dq-sources">' + "".join(cards) + "</div>"


def locate_passage(text: str, start: int, end: int, quote: str) -> tuple[int, int, str | None]:
    """Where the cited quote is in the current text: (start, end, note key or None)."""
    if 0 <= start <= end <= len(text) and text[start:end] == quote:
        return start, end, None
    found = text.find(quote) if quote else -1
    if found >= 0:
        return found, found + len(quote), "dispatch_moved"
    return -1, -1, "dispatch_changed"


def dispatch_html(doc: dict[str, Any] | None, citation: dict[str, Any] | None, lang: str) -> str:
    """One dispatch with the cited passage highlighted, plus its title, date, agency and file."""
    if doc is None:
        return f'<div class="dq-panel-empty" role="alert">{sheet_close_button(lang)}{esc(t(lang, "dispatch_gone"))}</div>'
    text = doc.get("text") or ""
    note = None
    start = end = -1
    if citation is not None:
        start, end, note = locate_passage(text, int(citation.get("start", -1)), int(citation.get("end", -1)),
                                          citation.get("quote") or "")
    head = (f'<div class="dq-doc-head"><div class="dq-doc-title">{esc(doc.get("title") or doc.get("doc_id"))}</div>'
            f'<div class="dq-doc-meta">{meta_html(doc, lang)}</div>'
            f'<div class="dq-meta dq-file">{esc(t(lang, "file"))}: {esc(doc.get("source_path"))} '
            f'<span class="dq-docid">({esc(doc.get("doc_id"))}'
            + (f', {esc(t(lang, "passage"))} {start}–{end}' if start >= 0 else "") + ")</span></div></div>")
    notes = f'<div class="dq-note" role="note">{esc(t(lang, note))}</div>' if note else ""
    lo, hi = 0, len(text)
    if len(text) > DISPATCH_VIEW_CHARS:
        centre = start if start >= 0 else 0
        lo = max(0, centre - DISPATCH_VIEW_CHARS // 2)
        hi = min(len(text), lo + DISPATCH_VIEW_CHARS)
        notes += f'<div class="dq-note">{esc(t(lang, "window", start=lo, end=hi, total=len(text)))}</div>'
    if start >= 0:
        body = (_display(text[lo:start]) + f'<mark class="dq-mark">{_passage_html(text, start, end, citation)}</mark>'
                + _display(text[end:hi]))
    else:
        body = _display(text[lo:hi])
    return (f'<div class="dq-doc">{sheet_close_button(lang)}{head}{notes}'
            f'<div class="dq-doc-body" tabindex="0">{body}</div></div>')


def _passage_html(text: str, start: int, end: int, citation: dict[str, Any] | None) -> str:
    """The cited passage, the words that answer in <strong class="dq-hl"> (shifted with the passage
    when the dispatch moved it)."""
    h = (citation or {}).get("highlight")
    if h:
        shift = start - int(citation.get("start", start))  # type: ignore[union-attr]
        lo, hi = int(h["start"]) + shift, int(h["end"]) + shift
        if start <= lo < hi <= end:
            return (_display(text[start:lo]) + f'<strong class="dq-hl">{_display(text[lo:hi])}</strong>'
                    + _display(text[hi:end]))
    return _display(text[start:end])


_BLANK_RUNS = re.compile(r"\n\s*\n(\s*\n)+")


def _display(text: str) -> str:
    """Escaped text for a pre-wrap block; runs of blank lines shown as one."""
    return esc(_BLANK_RUNS.sub("\n\n", text))

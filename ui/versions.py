"""Versions of one wire copy: the list a source card opens ("aussi dans N dépêches") and the
sentences added or removed between two versions, since what changed between two is news in itself.

`sentence_diff` is pure; `versions_diff_html` gets the two texts through a `document(doc_id)`
callback (the Pipeline's), so it is tested with plain functions.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

from index.chunking import split_sentences
from ui.i18n import text as say
from ui.markup import esc, one_line, sheet_close_button, short_id


def sentences(text: str) -> list[str]:
    """The text's sentences (and headings) on one line each, in order."""
    return [one_line(text[s.start:s.end]) for s in split_sentences(text)]


def sentence_diff(old: str, new: str) -> list[tuple[str, str]]:
    """(op, sentence) from `old` to `new`, in reading order; op is "same", "removed" or "added"."""
    a, b = sentences(old), sentences(new)
    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out += [("same", s) for s in a[i1:i2]]
            continue
        out += [("removed", s) for s in a[i1:i2]]
        out += [("added", s) for s in b[j1:j2]]
    return out


def versions_html(c: dict[str, Any], turn: int, kind: str, ref: int, lang: str) -> str:
    """The card's "aussi dans N dépêches": a disclosure listing each other version, each with a Compare button."""
    versions = [v for v in (c.get("versions") or []) if isinstance(v, dict) and v.get("doc_id")]
    if not versions:
        return ""
    label = say(lang, "versions_one") if len(versions) == 1 else say(lang, "versions", n=len(versions))
    rows = []
    for v in versions:
        title = v.get("title") or short_id(v["doc_id"])
        meta = " · ".join(esc(x) for x in (v.get("date") or say(lang, "undated_badge"),
                                           v.get("source") or say(lang, "unknown_agency_badge")))
        rows.append(f'<li><span class="dq-version-title">{esc(title)}</span> <span class="dq-meta">{meta}</span> '
                    f'<button type="button" class="dq-action dq-compare" data-cite="{ref}" data-turn="{turn}" '
                    f'data-kind="{kind}" data-other="{esc(v["doc_id"])}" '
                    f'aria-label="{esc(say(lang, "compare_label", title=title))}">{esc(say(lang, "compare"))}</button>'
                    f"</li>")
    return (f'<details class="dq-versions"><summary>{esc(label)}</summary>'
            f'<ul>{"".join(rows)}</ul></details>')


def diff_html(old: dict[str, Any], new: dict[str, Any], lang: str) -> str:
    """Two versions' sentence diff, older first: added and removed sentences in full, runs of unchanged
    ones folded to a count."""
    ops = sentence_diff(old.get("text") or "", new.get("text") or "")
    counts = {op: sum(1 for o, _ in ops if o == op) for op in ("added", "removed", "same")}
    names = [d.get("title") or short_id(d.get("doc_id")) for d in (old, new)]
    if names[0] == names[1]:  # re-issues often keep the headline: name them by their ids
        names = [short_id(d.get("doc_id")) for d in (old, new)]
    head = say(lang, "diff_head", old=names[0], new=names[1])
    parts = [f'<div class="dq-diff" data-old="{esc(old.get("doc_id"))}" data-new="{esc(new.get("doc_id"))}">',
             sheet_close_button(lang), f'<div class="dq-doc-title">{esc(head)}</div>',
             f'<div class="dq-meta">{esc(say(lang, "diff_counts", **counts))}</div>']
    if not counts["added"] and not counts["removed"]:
        parts.append(f'<div class="dq-note">{esc(say(lang, "diff_none"))}</div>')
    parts.append('<div class="dq-doc-body dq-diff-body">')
    same_run = 0
    for op, sentence in ops + [("end", "")]:
        if op == "same":
            same_run += 1
            continue
        if same_run:
            parts.append(f'<div class="dq-diff-same">{esc(say(lang, "diff_same", n=same_run))}</div>')
            same_run = 0
        if op in ("added", "removed"):
            sign = "+" if op == "added" else "−"
            tag = "ins" if op == "added" else "del"
            parts.append(f'<{tag} class="dq-diff-{op}" title="{esc(say(lang, "diff_" + op))}">'
                         f'<span class="dq-diff-sign" aria-hidden="true">{sign}</span> {esc(sentence)}</{tag}>')
    parts.append("</div></div>")
    return "".join(parts)


def versions_diff_html(document: Callable[[str], dict[str, Any] | None], cited: dict[str, Any], other_id: str,
                       lang: str) -> str:
    """The diff from another version (`other_id`) to the cited dispatch, read through `document`.

    The other version is compared as the older one: retrieval cites the newest version of a cluster."""
    new = document(cited.get("doc_id") or "")
    old = document(other_id) if any(v.get("doc_id") == other_id for v in cited.get("versions") or []) else None
    if new is None or old is None:
        return f'<div class="dq-panel-empty" role="alert">{sheet_close_button(lang)}{esc(say(lang, "diff_gone"))}</div>'
    return diff_html(old, new, lang)


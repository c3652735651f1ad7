"""Look of the web chat: a theme on system fonts, the CSS of ui/render.py's markup, and its small scripts.

Gradio's bundled web fonts are subsets (the semibold one falls back glyph by glyph offline) and
its Google fonts need the network, so the theme names only fonts installed on the machine.
"""

from __future__ import annotations

from typing import Any

SANS = ["Segoe UI", "Helvetica Neue", "Noto Sans", "Liberation Sans", "DejaVu Sans", "Arial", "sans-serif"]
MONO = ["Cascadia Mono", "Menlo", "Noto Sans Mono", "Liberation Mono", "DejaVu Sans Mono", "monospace"]


def theme() -> Any:
    import gradio as gr

    return gr.themes.Default(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate",
                             font=SANS, font_mono=MONO)


CSS = """
.dq-header h1 { margin: 0; font-size: 1.5rem; }
.dq-status { display: flex; flex-wrap: wrap; gap: .35rem 1.1rem; font-size: .85rem;
  color: var(--body-text-color-subdued); }
.dq-status code { font-size: .8rem; }
.dq-transcript { display: flex; flex-direction: column; gap: .75rem; padding: .25rem; }
.dq-msg { border-radius: 12px; padding: .6rem .85rem; line-height: 1.55; max-width: 100%; }
.dq-user { align-self: flex-end; background: var(--color-accent-soft); max-width: 85%; }
.dq-bot { align-self: stretch; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); }
.dq-abstained { border-left: 4px solid #d97706; }
.dq-error { border-left: 4px solid #dc2626; }
.dq-who { font-size: .75rem; font-weight: 700; text-transform: uppercase; letter-spacing: .04em;
  color: var(--body-text-color-subdued); margin-bottom: .2rem; }
.dq-text { white-space: pre-wrap; overflow-wrap: anywhere; }
.dq-thinking { color: var(--body-text-color-subdued); font-style: italic; }
.dq-caret { display: inline-block; width: .5em; height: 1em; margin-left: 2px; vertical-align: text-bottom;
  background: var(--body-text-color-subdued); animation: dq-blink 1s steps(2) infinite; }
@keyframes dq-blink { 50% { opacity: 0; } }
.dq-notice { margin: 0 0 .5em; padding: .35em .6em; border-left: 3px solid #b7791f; background: rgba(183,121,31,.08);
  font-size: .9em; }
.dq-unsupported { text-decoration: underline dotted #b7791f; text-decoration-thickness: 2px; }
.dq-flag { margin-left: .3em; padding: 0 .35em; border-radius: 4px; font-size: .72em; color: #8a5a12;
  background: rgba(183,121,31,.15); vertical-align: middle; }
button.dq-cite, span.dq-cite { display: inline-flex; align-items: center; justify-content: center;
  position: relative; box-sizing: border-box; min-width: 24px; min-height: 24px; padding: 0 .4em; margin: 0 .15em;
  border-radius: 999px; border: 1px solid var(--color-accent); background: var(--background-fill-primary);
  color: var(--color-accent); font-size: .8rem; font-weight: 700; line-height: 1; vertical-align: baseline;
  cursor: pointer; text-align: center; }
button.dq-cite:hover, button.dq-cite:focus-visible { background: var(--color-accent); color: white; }
span.dq-pending { cursor: default; opacity: .6; }
.dq-actions { display: flex; gap: .4rem; margin-top: .45rem; }
button.dq-action { font-size: .78rem; padding: .1rem .6rem; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary);
  color: var(--body-text-color); }
button.dq-action:hover { border-color: var(--color-accent); }
.dq-related { margin-top: .6rem; }
.dq-related-head, .dq-sources-head { font-size: .8rem; font-weight: 700; color: var(--body-text-color-subdued);
  margin: .5rem 0 .3rem; }
.dq-sources-q { font-weight: 400; font-style: italic; }
.dq-related ul { list-style: none; padding: 0; margin: 0; display: flex; flex-direction: column; gap: .35rem; }
.dq-badge { display: inline-block; padding: 0 .45em; margin-right: .35em; border-radius: 999px; font-size: .72rem;
  font-weight: 700; background: var(--color-accent); color: white; }
.dq-badge-related { background: transparent; color: #b45309; border: 1px dashed #b45309; }
button.dq-card, button.dq-related-item { display: flex; flex-direction: column; align-items: flex-start;
  gap: .15rem; width: 100%; text-align: left; padding: .5rem .65rem; border-radius: 10px; cursor: pointer;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary);
  color: var(--body-text-color); font: inherit; }
button.dq-card:hover, button.dq-related-item:hover { border-color: var(--color-accent); }
button.dq-card-related, button.dq-related-item { border-style: dashed; }
button.dq-card.dq-active { border: 2px solid var(--color-accent); }
.dq-sources { display: flex; flex-direction: column; gap: .45rem; }
.dq-card-title, .dq-related-title, .dq-doc-title { font-weight: 700; }
.dq-meta { font-size: .8rem; color: var(--body-text-color-subdued); overflow-wrap: anywhere; }
.dq-quote { font-size: .88rem; display: -webkit-box; -webkit-line-clamp: 3; -webkit-box-orient: vertical;
  overflow: hidden; }
.dq-card-wrap.dq-expanded .dq-quote { display: block; -webkit-line-clamp: unset; overflow: visible; }
.dq-card-wrap { display: flex; flex-direction: column; gap: .2rem; }
.dq-card-top { display: flex; align-items: center; gap: .1rem; width: 100%; min-width: 0; }
.dq-card-title { flex: 1 1 0; min-width: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.dq-related-cards { display: flex; flex-direction: column; gap: .35rem; }
.dq-badge-warn { background: transparent; color: #92400e; border: 1px solid #d97706; font-weight: 600; }
.dark .dq-badge-warn { color: #fcd34d; }
.dq-speaker { font-style: italic; }
.dq-shortid { font-family: var(--font-mono); font-size: .75rem; }
.dq-date-note { color: var(--body-text-color-subdued); font-size: .9em; }
button.dq-expand { align-self: flex-start; min-height: 24px; padding: 0 .5rem; border: none; background: none;
  color: var(--color-accent); font: inherit; font-size: .8rem; cursor: pointer; text-decoration: underline; }
.dq-versions { font-size: .82rem; padding: 0 .2rem; }
.dq-versions summary { cursor: pointer; color: var(--color-accent); min-height: 24px; line-height: 24px; }
.dq-versions ul { list-style: none; margin: .2rem 0; padding: 0; display: flex; flex-direction: column; gap: .25rem; }
.dq-version-title { font-weight: 600; }
button.dq-compare { min-height: 24px; margin-left: .3rem; }
.dq-diff { display: flex; flex-direction: column; gap: .4rem; }
.dq-diff-body { display: flex; flex-direction: column; gap: .3rem; white-space: normal; }
.dq-diff-body ins, .dq-diff-body del { display: block; text-decoration: none; padding: .2rem .4rem; border-radius: 4px; }
.dq-diff-added { background: rgba(22,163,74,.12); border-left: 3px solid #16a34a; }
.dq-diff-removed { background: rgba(220,38,38,.1); border-left: 3px solid #dc2626; }
.dq-diff-same { font-size: .8rem; color: var(--body-text-color-subdued); font-style: italic; }
.dq-diff-sign { font-weight: 700; margin-right: .2rem; }
.dq-disagreement { margin-top: .6rem; white-space: normal; }
.dq-disagreement-head { font-size: .8rem; font-weight: 700; color: #b45309; margin-bottom: .3rem; }
/* The sides next to each other, at any width; only three or more stack on a phone. */
.dq-sides { display: grid; grid-auto-flow: column; grid-auto-columns: minmax(0, 1fr); gap: .5rem; }
@media (max-width: 700px) { .dq-sides:has(> .dq-side:nth-child(3)) { grid-auto-flow: row; } }
.dq-side { padding: .4rem .55rem; border-radius: 8px; border: 1px solid var(--border-color-primary);
  border-top: 3px solid #b45309; background: var(--background-fill-primary); }
.dq-side-who { font-weight: 700; font-size: .85rem; margin-bottom: .2rem; }
.dq-side-quote { margin: 0 0 .3rem; font-size: .88rem; }
button.dq-sheet-close { display: none; }
@media (min-width: 701px) {
  /* Never wrapped under the chat: a sticky column on a second line would ride over the transcript. */
  .row:has(> #dq-evidence) { flex-wrap: nowrap; }
  .row:has(> #dq-evidence) > .column { min-width: 0; }
  /* One flex line (a capped-height column would wrap its blocks sideways), scrolled inside its own box. */
  #dq-evidence { position: sticky; top: .5rem; align-self: flex-start; max-height: calc(100vh - 1rem);
    overflow-y: auto; overflow-x: hidden; flex-wrap: nowrap; }
  #dq-evidence > * { flex-shrink: 0; }
  #dq-dispatch .dq-doc-body { max-height: 45vh; }
}
@media (max-width: 700px) {
  button.dq-cite::after { content: ""; position: absolute; inset: -10px; }
  #dq-dispatch:not(.dq-sheet-open) { display: none !important; }
  #dq-dispatch.dq-sheet-open { position: fixed !important; left: 0; right: 0; bottom: 0; top: auto;
    max-height: 92vh; overflow-y: auto; z-index: 1000; margin: 0 !important; border-radius: 14px 14px 0 0;
    box-shadow: 0 -8px 30px rgba(0,0,0,.35); background: var(--background-fill-primary); }
  #dq-dispatch .dq-doc-body { max-height: 58vh; }
  #dq-dispatch button.dq-sheet-close { display: inline-flex; align-items: center; align-self: flex-end; min-height: 44px;
    min-width: 44px; padding: 0 1rem; border-radius: 999px; cursor: pointer; font: inherit; font-weight: 700;
    border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
    color: var(--body-text-color); }
}
.dq-doc { display: flex; flex-direction: column; gap: .4rem; }
.dq-doc-title { font-size: 1.05rem; }
.dq-docid { opacity: .8; }
.dq-note { font-size: .82rem; padding: .3rem .5rem; border-radius: 6px; background: var(--background-fill-secondary);
  border-left: 3px solid #d97706; }
.dq-doc-body { position: relative; white-space: pre-wrap; overflow-wrap: anywhere; line-height: 1.55;
  max-height: 55vh; overflow-y: auto; padding: .5rem .7rem; border-radius: 8px;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-primary); }
/* Vertical padding closes the gaps between the passage's lines: the whole passage is one target. */
mark.dq-mark { background: #fde68a; color: #1f2937; padding: .2em .1em; border-radius: 3px;
  box-shadow: 0 0 0 2px #f59e0b; }
.dark mark.dq-mark { background: #b45309; color: #fff7ed; }
strong.dq-hl { font-weight: 700; text-decoration: underline; text-underline-offset: .15em; }
.dq-panel-empty { color: var(--body-text-color-subdued); font-size: .9rem; padding: .5rem; }
.dq-empty { padding: 1rem .5rem; color: var(--body-text-color); }
.dq-examples { display: flex; flex-wrap: wrap; gap: .5rem; }
.dq-examples-head { font-weight: 700; font-size: .85rem; color: var(--body-text-color-subdued); }
button.dq-example { padding: .4rem .75rem; border-radius: 999px; cursor: pointer; font: inherit; font-size: .9rem;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); }
button.dq-example:hover { border-color: var(--color-accent); }
button.dq-ask-alone { margin-left: .4em; padding: .1em .55em; min-height: 24px; border-radius: 999px;
  cursor: pointer; font: inherit; font-size: .85rem; border: 1px solid #b7791f; background: transparent;
  color: var(--body-text-color); }
button.dq-ask-alone:hover { background: rgba(183,121,31,.15); }
.dq-summary { font-size: .9rem; display: flex; flex-direction: column; gap: .25rem; }
.dq-failed { color: #b91c1c; }
.dark .dq-failed { color: #fca5a5; }
.dq-error-text { color: #b91c1c; }
#dq-transcript { min-height: 380px; }
#dq-docs table, #dq-docs th, #dq-docs td, #dq-docs span { font-family: var(--font); }
"""

# Clicks inside the transcript and the sources panel: citations and examples go to Python,
# copy and download stay in the browser (the Markdown is already in the page).
CLICKS_JS = """
// New content: show the end of the conversation, but never scroll the latest question out of view.
const scroller = () => {
  for (let n = element; n && n !== document.body; n = n.parentElement) {
    const overflow = getComputedStyle(n).overflowY;
    if ((overflow === 'auto' || overflow === 'scroll') && n.scrollHeight > n.clientHeight) return n;
  }
  return null;
};
watch('value', () => {
  const box = scroller();
  const questions = element.querySelectorAll('.dq-user');
  if (!box || !questions.length) return;
  const last = questions[questions.length - 1];
  const top = last.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop - 8;
  box.scrollTop = Math.min(top, box.scrollHeight - box.clientHeight);
});
element.addEventListener('click', (ev) => {
  const el = ev.target.closest('button');
  if (!el || !element.contains(el)) return;
  if (el.dataset.cite !== undefined) {
    trigger('cite', {turn: Number(el.dataset.turn), ref: Number(el.dataset.cite), kind: el.dataset.kind,
                     other: el.dataset.other || null});
    document.dispatchEvent(new CustomEvent('dq-evidence'));  // the viewer opens (a repeated click changes no value)
  } else if (el.dataset.expand !== undefined) {
    const open = el.closest('.dq-card-wrap').classList.toggle('dq-expanded');
    el.setAttribute('aria-expanded', String(open));
    el.textContent = open ? el.dataset.less : el.dataset.more;
  } else if (el.dataset.example !== undefined) {
    trigger('example', {text: el.dataset.example});
  } else if (el.dataset.standalone !== undefined) {
    trigger('standalone', {text: el.dataset.standalone});
  } else if (el.dataset.copy !== undefined) {
    const md = el.closest('[data-md]').dataset.md;
    const done = () => { const label = el.textContent; el.textContent = el.dataset.done;
      setTimeout(() => { el.textContent = label; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(md).then(done);
    } else {
      const area = document.createElement('textarea');
      area.value = md; document.body.appendChild(area); area.select();
      document.execCommand('copy'); area.remove(); done();
    }
  } else if (el.dataset.download !== undefined) {
    const box = el.closest('[data-md]');
    const url = URL.createObjectURL(new Blob([box.dataset.md], {type: 'text/markdown'}));
    const a = document.createElement('a');
    a.href = url; a.download = box.dataset.name || 'answer.md';
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }
});
"""

# The evidence viewer (the dispatch or a versions diff). On a wide screen it is the top of a sticky
# column beside the chat: the column and the dispatch's own box scroll, never the page, so the <mark>
# lands in the window. On a phone (<= 700 px) it opens as a sheet over the chat, closed by its button
# or Escape. Opening waits for content: a first click must not show the empty placeholder.
SCROLL_TO_MARK_JS = """
const block = element.closest('#dq-dispatch') || element;
const phone = () => window.matchMedia('(max-width: 700px)').matches;
const hasEvidence = () => !!element.querySelector('.dq-doc, .dq-diff, [role=alert]');
const scrollToMark = () => {
  const body = element.querySelector('.dq-doc-body');
  const mark = element.querySelector('mark');
  if (body && mark) {
    const room = body.clientHeight - mark.offsetHeight;
    body.scrollTop = Math.max(0, mark.offsetTop - (room > 0 ? room / 3 : 8));
  }
};
const show = () => {
  if (!hasEvidence()) { close(); return; }
  if (phone()) {
    block.classList.add('dq-sheet-open');
  } else {
    const column = block.closest('#dq-evidence');
    if (column) {
      const top = block.getBoundingClientRect().top - column.getBoundingClientRect().top;
      if (top < 0 || block.getBoundingClientRect().bottom > window.innerHeight) column.scrollTop += top;
    }
  }
  scrollToMark();
};
const close = () => block.classList.remove('dq-sheet-open');
element.addEventListener('click', (ev) => {
  if (ev.target.closest('[data-close]')) close();
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && block.classList.contains('dq-sheet-open')) close();
});
document.addEventListener('dq-evidence', () => { if (hasEvidence()) show(); });
watch('value', show);
scrollToMark();
"""

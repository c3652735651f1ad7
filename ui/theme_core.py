"""Styles of the chat's filter chips, the library's delete confirmation and the compact status line
(appended to ui/theme.py's CSS by launch_options)."""

CORE_CSS = """
.dq-chips { display: flex; flex-wrap: wrap; gap: .35rem; align-items: center; font-size: .85rem; }
.dq-chips-head { color: var(--body-text-color-subdued); }
.dq-chip { border: 1px solid var(--color-accent); border-radius: 999px; padding: .1rem .6rem;
  background: var(--color-accent-soft); }
.dq-filter-problem { color: #b91c1c; font-size: .9rem; margin-top: .25rem; }
.dark .dq-filter-problem { color: #fca5a5; }
.dq-notice.dq-scope { font-style: italic; }
.dq-status { display: flex; flex-wrap: wrap; gap: .25rem 1rem; font-size: .85rem; align-items: baseline; }
.dq-status-details summary { cursor: pointer; color: var(--body-text-color-subdued); }
.dq-status-details code { word-break: break-all; }
.dq-confirm-q { font-weight: 600; padding: .5rem; }
.dq-selected.dq-none { color: var(--body-text-color-subdued); }
#dq-lang { max-width: 4rem; }
"""

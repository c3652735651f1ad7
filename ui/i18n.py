"""The interface's words in French and English, in one table: labels, placeholders, messages, toasts.

The interface follows the browser's language (French for `fr*`, English otherwise) until the user
flips the switch; answers keep following the question's language (ui/render.py's `t`).
Component labels are Gradio `I18n` keys, translated in the browser with Gradio's own strings
("Drop File Here"), so one locale governs both; HTML drawn in Python takes the language as an argument.
"""

from __future__ import annotations

from typing import Any

LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "en"

STRINGS: dict[str, dict[str, str]] = {
    # the header and the tabs
    "switch_language": {"fr": "EN", "en": "FR"},  # the switch shows the language it goes to
    "switch_language_title": {"fr": "Switch the interface to English", "en": "Passer l’interface en français"},
    "tab_chat": {"fr": "Discussion", "en": "Chat"},
    "tab_library": {"fr": "Bibliothèque", "en": "Library"},
    # the chat
    "question_label": {"fr": "Votre question", "en": "Your question"},
    "question_placeholder": {"fr": "Posez votre question sur les dépêches…", "en": "Ask about the dispatches…"},
    "ask": {"fr": "Demander", "en": "Ask"},
    "new_chat": {"fr": "Nouvelle conversation", "en": "New chat"},
    "filters": {"fr": "Filtres", "en": "Filters"},
    "date_from": {"fr": "Du", "en": "From"},
    "date_to": {"fr": "Au", "en": "To"},
    "date_placeholder": {"fr": "AAAA[-MM[-JJ]]", "en": "YYYY[-MM[-DD]]"},
    "sources_filter": {"fr": "Agences", "en": "Agencies"},
    "unknown_agency": {"fr": "agence inconnue", "en": "unknown agency"},
    "clear_filters": {"fr": "Effacer les filtres", "en": "Clear filters"},
    "chip_from": {"fr": "depuis {value}", "en": "from {value}"},
    "chip_to": {"fr": "jusqu’à {value}", "en": "until {value}"},
    "active_filters": {"fr": "Filtres actifs :", "en": "Active filters:"},
    "bad_date": {"fr": "« {value} » n’est pas une date du calendrier : écrivez 2025, 2025-03 ou 2025-03-14 ({field}).",
                 "en": "“{value}” is not a calendar date: write 2025, 2025-03 or 2025-03-14 ({field})."},
    "date_order": {"fr": "La date de début ({start}) est après la date de fin ({end}) : aucune dépêche ne peut "
                         "correspondre.",
                   "en": "The start date ({start}) is after the end date ({end}): no dispatch can match."},
    # the library
    "upload": {"fr": "Ajouter des dépêches ({suffixes})", "en": "Upload dispatches ({suffixes})"},
    "reindex": {"fr": "Réindexer tous les dossiers", "en": "Re-index all folders"},
    "search": {"fr": "Chercher une dépêche", "en": "Search dispatches"},
    "search_placeholder": {"fr": "titre, date, agence, identifiant…", "en": "title, date, agency, id…"},
    "selected": {"fr": "Dépêche sélectionnée (cliquez une ligne du tableau)",
                 "en": "Selected dispatch (click a row of the table)"},
    "nothing_selected": {"fr": "Aucune dépêche sélectionnée", "en": "No dispatch selected"},
    "delete": {"fr": "Supprimer la dépêche…", "en": "Delete dispatch…"},
    "confirm_delete": {"fr": "Oui, supprimer", "en": "Yes, delete"},
    "cancel": {"fr": "Annuler", "en": "Cancel"},
    "col_title": {"fr": "Titre", "en": "Title"},
    "col_date": {"fr": "Date", "en": "Date"},
    "col_source": {"fr": "Agence", "en": "Agency"},
    "col_chunks": {"fr": "Passages", "en": "Chunks"},
    "col_id": {"fr": "Identifiant", "en": "ID"},
    "col_origin": {"fr": "Origine", "en": "Origin"},
    "origin_upload": {"fr": "ajoutée ici", "en": "uploaded"},
    "origin_indexed": {"fr": "indexée", "en": "indexed"},
    "count": {"fr": "{n} dépêches", "en": "{n} dispatches"},
    "count_shown": {"fr": "{n} dépêches (les {shown} premières affichées)",
                    "en": "{n} dispatches (showing the first {shown})"},
    "ask_delete_upload": {"fr": "Supprimer « {title} » ({doc_id}) ? Son fichier ajouté ici, {file}, sera effacé "
                                "du disque.",
                          "en": "Delete “{title}” ({doc_id})? Its uploaded file {file} will be deleted from disk."},
    "ask_delete_kept": {"fr": "Retirer « {title} » ({doc_id}) de l’index ? Son fichier {file} reste sur le disque.",
                        "en": "Remove “{title}” ({doc_id}) from the index? Its file {file} stays on disk."},
    "select_first": {"fr": "Sélectionnez d’abord une dépêche dans le tableau.",
                     "en": "Select a dispatch in the table first."},
    "no_such_dispatch": {"fr": "La dépêche {doc_id} n’est plus dans l’index.",
                         "en": "Dispatch {doc_id} is no longer in the index."},
    "deleted_with_file": {"fr": "{doc_id} supprimée, avec son fichier {file}.",
                          "en": "Deleted {doc_id} and its uploaded file {file}."},
    "removed_kept": {"fr": "{doc_id} retirée de l’index (son fichier est conservé).",
                     "en": "Removed {doc_id} from the index (its file is kept)."},
    "removed_shared": {"fr": "{doc_id} retirée de l’index (son fichier est conservé : il contient d’autres "
                             "dépêches).",
                       "en": "Removed {doc_id} from the index (its file is kept: it holds other dispatches)."},
    "delete_failed": {"fr": "Impossible de supprimer {doc_id} : {detail}", "en": "Could not delete {doc_id}: {detail}"},
    "delete_cancelled": {"fr": "Suppression annulée : rien n’a changé.", "en": "Deletion cancelled: nothing changed."},
    "unsupported_type": {"fr": "type de fichier non accepté {suffix} (acceptés : {accepted})",
                         "en": "unsupported file type {suffix} (accepted: {accepted})"},
    "no_file": {"fr": "Aucun fichier reçu.", "en": "No file received."},
    "reading_files": {"fr": "Lecture des fichiers…", "en": "Reading files…"},
    "progress_embedding": {"fr": "vectorisation", "en": "embedding"},
    "progress_unit": {"fr": "dépêches", "en": "dispatches"},
    "indexing_failed": {"fr": "L’indexation n’a pas eu lieu : {detail}", "en": "Indexing did not run: {detail}"},
    "summary_counts": {"fr": "{added} ajoutées · {updated} mises à jour · {unchanged} inchangées · {removed} retirées · "
                             "{failed} refusées",
                       "en": "{added} added · {updated} updated · {unchanged} unchanged · {removed} removed · "
                             "{failed} refused"},
    "summary_added": {"fr": "Ajoutées", "en": "Added"},
    "summary_updated": {"fr": "Mises à jour", "en": "Updated"},
    "summary_removed": {"fr": "Retirées", "en": "Removed"},
    "summary_refused": {"fr": "Fichiers refusés :", "en": "Refused files:"},
    # the status line
    "status_documents": {"fr": "dépêches", "en": "documents"},
    "status_chunks": {"fr": "passages", "en": "chunks"},
    "status_last": {"fr": "dernière indexation {when}", "en": "last indexed {when}"},
    "status_never": {"fr": "jamais", "en": "never"},
    "status_details": {"fr": "détails", "en": "details"},
    "status_model": {"fr": "modèle", "en": "model"},
    "status_store": {"fr": "stockage", "en": "store"},
    # The Chronologie tab (ui/timeline.py); its messages follow the subject's language.
    "tab_timeline": {"fr": "Chronologie", "en": "Timeline"},
    "timeline_placeholder": {"fr": "Sujet de la chronologie…", "en": "Timeline subject…"},
    "timeline_go": {"fr": "Afficher", "en": "Show"},
    "timeline_empty": {"fr": "Donnez un sujet (« Koursk », « trêve ») : ses dépêches s'affichent dans l'ordre des faits.",
                       "en": "Give a subject (\u201cKursk\u201d, \u201cceasefire\u201d): its dispatches show in the order of events."},
    "timeline_none": {"fr": "Aucune dépêche ne correspond à cette recherche.", "en": "No dispatch matches this query."},
    "timeline_undated": {"fr": "sans date", "en": "undated"},
    "timeline_event": {"fr": "date du fait", "en": "event date"},
    "timeline_dispatch": {"fr": "date de la dépêche", "en": "dispatch date"},
    "timeline_no_agency": {"fr": "agence non précisée", "en": "agency not stated"},
    "timeline_speaker": {"fr": "selon", "en": "according to"},
    "timeline_bad_date": {"fr": "{field} : « {value} » n'est pas une date (AAAA, AAAA-MM ou AAAA-MM-JJ).",
                          "en": "{field}: '{value}' is not a date (use YYYY, YYYY-MM or YYYY-MM-DD)."},
    "timeline_error": {"fr": "La chronologie n'a pas pu être établie : {detail}", "en": "The timeline could not be built: {detail}"},
    "timeline_empty_index": {"fr": "L'index est vide : ajoutez des dépêches dans l'onglet Bibliothèque.",
                             "en": "The index is empty: add dispatches in the Library tab."},
    # The chat's answers and panels (ui/render.py): they follow the question's language.
    "you": {"fr": "Vous", "en": "You"},
    "assistant": {"fr": "Assistant", "en": "Assistant"},
    "copy": {"fr": "Copier", "en": "Copy"},
    "copied": {"fr": "Copié", "en": "Copied"},
    "download": {"fr": "Markdown", "en": "Markdown"},
    "related": {"fr": "Passages liés — pas des citations", "en": "Related passages — not cited"},
    "related_short": {"fr": "lié", "en": "related"},
    "sources": {"fr": "Sources", "en": "Sources"},
    "no_sources": {"fr": "Les sources d’une réponse s’affichent ici. Cliquez sur un numéro de citation dans une réponse pour lire le passage dans sa dépêche.", "en": "Sources of an answer appear here. Click a citation number in an answer to read the passage in its dispatch."},
    "no_dispatch": {"fr": "Cliquez sur un renvoi ou une source pour lire la dépêche ici.", "en": "Click a citation marker or a source card to read the dispatch here."},
    "undated": {"fr": "non datée", "en": "undated"},
    "no_agency": {"fr": "agence non indiquée", "en": "agency not stated"},
    "error": {"fr": "Une erreur est survenue : {detail}", "en": "Something went wrong: {detail}"},
    "empty_index": {"fr": "L’index est vide : ajoutez des dépêches dans l’onglet Bibliothèque (ou lancez `dispatch-qa index DOSSIER`).", "en": "The index is empty: add dispatches in the Library tab (or run `dispatch-qa index FOLDER`)."},
    "dispatch_gone": {"fr": "Cette dépêche n’est plus dans l’index (supprimée ou réindexée sous un autre identifiant).", "en": "This dispatch is no longer in the index (it was removed or re-indexed under another id)."},
    "dispatch_changed": {"fr": "Cette dépêche a changé depuis la réponse ; le passage cité n’est plus dans son texte.", "en": "This dispatch changed since the answer; the cited passage is no longer in its text."},
    "dispatch_moved": {"fr": "Cette dépêche a changé depuis la réponse ; le passage a été retrouvé à une autre position.", "en": "This dispatch changed since the answer; the passage was found at a new position."},
    "file": {"fr": "Fichier", "en": "File"},
    "follow_up": {"fr": "Compris comme la suite de « {question} ».", "en": "Understood as a follow-up to “{question}”."},
    "ask_alone": {"fr": "La poser comme nouvelle question", "en": "Ask it as a new question"},
    "passage": {"fr": "passage", "en": "passage"},
    "examples": {"fr": "Essayez une question :", "en": "Try a question:"},
    "empty_chat": {"fr": "Posez une question sur les dépêches indexées. Chaque réponse cite ses sources.", "en": "Ask a question about the indexed dispatches. Every answer quotes its sources."},
    "thinking": {"fr": "Recherche dans les dépêches…", "en": "Searching the dispatches…"},
    "question": {"fr": "Question", "en": "Question"},
    "answer": {"fr": "Réponse", "en": "Answer"},
    "fallback": {"fr": "Le modèle de langue n’a pas servi pour cette réponse ; elle est citée des dépêches", "en": "The language model was not used for this answer; it is quoted from the dispatches"},
    "unsupported": {"fr": "non vérifiée par le passage cité", "en": "not verified by its cited passage"},
    "window": {"fr": "Dépêche longue : seule la partie autour du passage est affichée (caractères {start}–{end} sur {total}).", "en": "Long dispatch: showing the part around the passage (characters {start}–{end} of {total})."},
    # The evidence views: cards, quotes, versions, disagreement, the phone sheet.
    "close": {"fr": "Fermer", "en": "Close"},
    "close_label": {"fr": "Fermer la dépêche", "en": "Close the dispatch"},
    "show_more": {"fr": "Voir toute la citation", "en": "Show the whole quote"},
    "show_less": {"fr": "Réduire", "en": "Show less"},
    "undated_badge": {"fr": "non datée", "en": "undated"},
    "unknown_agency_badge": {"fr": "agence inconnue", "en": "unknown agency"},
    "speaker": {"fr": "selon {speaker}", "en": "according to {speaker}"},
    "speaker_md": {"fr": "Propos de : {speaker}", "en": "Said by: {speaker}"},
    "versions": {"fr": "aussi dans {n} dépêches", "en": "also in {n} dispatches"},
    "versions_one": {"fr": "aussi dans 1 dépêche", "en": "also in 1 dispatch"},
    "compare": {"fr": "Comparer", "en": "Compare"},
    "compare_label": {"fr": "Comparer avec « {title} »", "en": "Compare with “{title}”"},
    "diff_head": {"fr": "Ce qui change de « {old} » à « {new} »", "en": "What changed from “{old}” to “{new}”"},
    "diff_counts": {"fr": "{added} phrase(s) ajoutée(s), {removed} retirée(s), {same} identique(s)",
                    "en": "{added} sentence(s) added, {removed} removed, {same} unchanged"},
    "diff_added": {"fr": "ajoutée", "en": "added"},
    "diff_removed": {"fr": "retirée", "en": "removed"},
    "diff_same": {"fr": "{n} phrase(s) identique(s)", "en": "{n} unchanged sentence(s)"},
    "diff_none": {"fr": "Les deux versions ont les mêmes phrases.", "en": "Both versions have the same sentences."},
    "diff_gone": {"fr": "Une des deux versions n’est plus dans l’index.",
                  "en": "One of the two versions is no longer in the index."},
    "disagreement": {"fr": "Les sources divergent", "en": "The sources disagree"},
    "own_voice": {"fr": "La dépêche", "en": "The dispatch"},
    "related_in_chat": {"fr": "Aucune citation : les passages liés sont listés sous la réponse.",
                        "en": "No citation: the related passages are listed under the answer."},
}


def ui_language(tags: str | None) -> str:
    """The interface language for a browser's `navigator.language` or an Accept-Language header:
    French when the first French-or-English tag is French, English otherwise."""
    for part in (tags or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def text(lang: str | None, key: str, **values: Any) -> str:
    """One string of the table in `lang` (English when `lang` is neither), `values` filled in."""
    entry = STRINGS[key]
    words = entry.get(lang) or entry[DEFAULT_LANGUAGE]
    return words.format(**values) if values else words


def translations(**values: Any) -> dict[str, dict[str, str]]:
    """{lang: {key: string}}: the table as Gradio's I18n wants it, placeholders filled with `values`."""
    out: dict[str, dict[str, str]] = {lang: {} for lang in LANGUAGES}
    for key, entry in STRINGS.items():
        for lang in LANGUAGES:
            try:
                out[lang][key] = entry[lang].format(**values)
            except (KeyError, IndexError):  # a message with per-call values: not a label
                out[lang][key] = entry[lang]
    return out


def gradio_i18n(**values: Any) -> Any:
    """The gr.I18n given to `launch`: component labels written as `label(key)` are translated by it."""
    import gradio as gr

    return gr.I18n(**translations(**values))


def label(key: str) -> Any:
    """A component label/placeholder/button text: a key Gradio translates in the browser's locale."""
    import gradio as gr

    if key not in STRINGS:
        raise KeyError(f"no interface string {key!r} in ui/i18n.py STRINGS")
    return gr.I18n()(key)


# -- in the browser: the language chosen with the switch wins over the browser's ----------------------

# Gradio's own strings follow its svelte-i18n locale; `changeLocale` is exported by its core module
# (found among the loaded scripts, so no hashed file name is written here). Labels given as
# `label(key)` follow the same locale, so one call turns both.
_SET_LOCALE_JS = """
const dqSetLocale = async (lang) => {
  const core = performance.getEntriesByType('resource').map((e) => e.name)
    .find((n) => /\\/assets\\/core-[\\w-]+\\.js$/.test(n));
  if (!core) return;
  try { (await import(core)).changeLocale(lang); } catch (e) { console.warn('locale', e); }
};
"""
STORAGE_KEY = "dq-ui-lang"

# demo.load's js: the stored choice (applied to Gradio's locale) or the browser's language, as the input.
LOAD_LANGUAGE_JS = ("async (lang, ...rest) => {" + _SET_LOCALE_JS +
                    f"const chosen = localStorage.getItem('{STORAGE_KEY}');"
                    "if (chosen) await dqSetLocale(chosen);"
                    "return [chosen || navigator.language || 'en', ...rest]; }")
# The switch: store the other language and reload (the conversation is kept in the browser), so
# every component, Gradio's file drop zone included, is drawn again in it.
SWITCH_LANGUAGE_JS = ("() => {"
                      f"const now = (localStorage.getItem('{STORAGE_KEY}') || navigator.language || 'en');"
                      f"localStorage.setItem('{STORAGE_KEY}', now.toLowerCase().startsWith('fr') ? 'en' : 'fr');"
                      "window.location.reload(); }")

# The upload box drops, without a word, the files whose type it does not take: the summary's script
# names them (`refused`), so the summary lists every refused file (ui/library_actions.py on_refused).
WATCH_UPLOAD_JS = """
const refusedOf = (files) => Array.from(files || []).map((f) => f.name).filter((name) => {
  // read when files come: the Library tab (and its input) is drawn only once opened
  const accepted = (document.querySelector('#dq-upload input[type=file]')?.accept || '')
    .split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  const dot = name.lastIndexOf('.');
  return !accepted.length ? false : !accepted.includes(dot > 0 ? name.slice(dot).toLowerCase() : '');
});
const report = (files) => { const names = refusedOf(files); if (names.length) trigger('refused', {names}); };
document.addEventListener('change', (ev) => {
  if (ev.target.matches && ev.target.matches('#dq-upload input[type=file]')) report(ev.target.files);
}, true);
document.addEventListener('drop', (ev) => {
  if (ev.target.closest && ev.target.closest('#dq-upload')) report(ev.dataTransfer && ev.dataTransfer.files);
}, true);
"""

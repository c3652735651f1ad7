"""Every user-visible string of the evidence views (cards, quotes, versions, disagreement, the sheet).

`EVIDENCE_STRINGS` is merged into the interface's table; `say` reads it in the answer's language
("fr" when unknown), the way ui/render.py's `t` does.
"""

from __future__ import annotations

from typing import Any

EVIDENCE_STRINGS: dict[str, dict[str, str]] = {
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


def say(lang: str | None, key: str, **values: Any) -> str:
    entry = EVIDENCE_STRINGS[key]
    text = entry.get(lang or "fr", entry["fr"])
    return text.format(**values) if values else text

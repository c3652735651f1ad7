"""What `eval` and `bench` share about their reports: the JSON written and printed, peak memory, settings.

A report records the settings it ran with, so figures from different runs can be told apart.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

# The settings that shape `eval` figures: retrieval, chunking, answering and the language model.
EVAL_SETTINGS = ("embedding_model", "embedding_backend", "chunk_max_tokens", "chunk_overlap_sentences",
                 "embed_titles", "top_k", "dense_weight", "candidate_k", "bm25_k1", "bm25_b",
                 "answer_max_sentences", "abstain_threshold", "llm", "llm_model")


def settings_snapshot(settings: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(settings, name) for name in names}


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    import resource

    # ru_maxrss is in KiB on Linux.
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def write_report(report: dict[str, Any], out: Path | None) -> None:
    """The full report (per-question rows included) as a JSON file, when `--out` names one."""
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def print_json(data: Any) -> None:
    """The one JSON object `--json` promises on stdout (values JSON cannot hold are shown as text)."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")

"""`eval --llm ...`: generative answers measured next to the extractive ones, on the same retrieval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SEED_DATED, SEED_UNDATED, SEEDS, write_jsonl
from tests.llm_servers import Behaviour, FakeServer, quoting

pytestmark = pytest.mark.slow

QUESTIONS = [
    {"id": "q1", "question": "Qu'a demandé Vladimir Poutine aux soldats ukrainiens dans la région de Koursk ?",
     "relevant_doc_ids": [SEED_DATED], "answers": ["déposer les armes"]},
    {"id": "q2", "question": "Qui est l'envoyé de Donald Trump qui a rencontré Poutine à Moscou ?",
     "relevant_doc_ids": [SEED_UNDATED], "answers": ["Steve Witkoff"]},
]


def test_eval_reports_generative_next_to_extractive(cli: Any, tmp_path: Path) -> None:
    questions = write_jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    fake = FakeServer("openai", Behaviour(script=quoting(1))).start()
    try:
        common = ["eval", "--questions", questions, "--corpus", SEEDS, "--data-dir", tmp_path / "data",
                  "--llm", "openai-compatible", "--llm-base-url", fake.url]
        r = cli(*common, "--json")
        assert r.code == 0, r.err
        report = r.json
        runs = report["compare"]
        assert set(runs) == {"hybrid", "generative"}
        extractive, generative = runs["hybrid"], runs["generative"]
        assert extractive.get("fallback_rate") is None
        assert generative["llm"] == "openai-compatible" and generative["n"] == 2
        assert generative["fallback_rate"] == 0.0
        assert generative["supported_sentence_rate"] == 1.0
        assert generative["recall_at_5"] == extractive["recall_at_5"], "same retrieval for both"
        assert report["settings"]["llm"] == "openai-compatible"
        # 2 questions + 1 warm-up reached the model; the extractive run did not call it.
        assert len(fake.requests) == 3

        r = cli(*common)
        assert r.code == 0, r.err
        header = next(line for line in r.out.splitlines() if line.startswith("metric"))
        assert header.split() == ["metric", "hybrid", "generative"]
        row = next(line for line in r.out.splitlines() if line.startswith("fallback_rate"))
        assert row.split() == ["fallback_rate", "-", "0.000"]
    finally:
        fake.stop()


def test_eval_without_llm_has_no_generative_rows(cli: Any, tmp_path: Path) -> None:
    questions = write_jsonl(tmp_path / "questions.jsonl", QUESTIONS)
    r = cli("eval", "--questions", questions, "--corpus", SEEDS, "--data-dir", tmp_path / "data")
    assert r.code == 0, r.err
    assert "fallback_rate" not in r.out and "generative" not in r.out

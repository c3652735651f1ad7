"""`dispatch-qa eval`: retrieval and answer quality of the assistant on a question set.

Every question goes through `Pipeline.ask`, the path the CLI and the web chat take, so the
figures describe what a user gets. The figures come from `assistant.metrics`, pure functions of
the per-question rows, so anyone can recompute the report from its rows.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assistant.errors import CommandError
from assistant.metrics import rounded_mean, summarize
from assistant.progress import ProgressBar
from assistant.questions import EvalError, Question, drop_title, load_questions, sample
from assistant.reporting import EVAL_SETTINGS, peak_rss_mb, print_json, settings_snapshot, write_report
from assistant.settings import Settings

MODES = ("dense", "keyword", "hybrid")
LATENCY_KEY = "total"


# -- running -----------------------------------------------------------------------------------

@dataclass
class EvalRun:
    questions_path: Path
    corpus: Path
    limit: int | None = None
    seed: int | None = None
    modes: tuple[str, ...] = ("hybrid",)
    progress: bool = True
    corpus_limit: int | None = None


def limited_corpus(corpus: Path, limit: int | None, data_dir: Path) -> Path:
    """The first `limit` articles of a JSONL corpus, written beside the index (ids unchanged)."""
    if not limit:
        return corpus
    if not corpus.is_file() or corpus.suffix != ".jsonl":
        raise EvalError(f"{corpus}: --corpus-limit needs a .jsonl corpus file")
    target = data_dir / "eval-corpus" / f"{corpus.stem}-first{limit}.jsonl"
    with corpus.open(encoding="utf-8") as fh:
        head = [line for _, line in zip(range(limit), fh)]
    text = "".join(head)
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return target


def run_eval(run: EvalRun, settings: Settings, log: Any = None, pipeline: Any = None) -> dict[str, Any]:
    from assistant.pipeline import open_pipeline

    log = log or (lambda msg: print(msg, file=sys.stderr))
    qset = load_questions(run.questions_path)
    if not run.corpus.exists():
        raise EvalError(f"{run.corpus}: no such corpus file or folder")
    questions = sample(qset.questions, run.limit, run.seed)
    pipeline = pipeline or open_pipeline(settings)
    corpus = limited_corpus(run.corpus, run.corpus_limit, settings.data_dir).resolve()
    others = [r for r in pipeline.records.roots() if Path(r) != corpus]
    if others:
        raise EvalError(f"{settings.data_dir}: this data dir also indexes {', '.join(others)}; "
                        "give eval a data dir of its own (--data-dir) so other documents do not skew the figures")
    log(f"indexing {corpus} into {settings.data_dir} ({qset.format} questions"
        f"{', titles left out' if qset.drop_titles else ''})")
    bar = ProgressBar("indexing", "doc", run.progress)
    report = pipeline.index([corpus], transform=drop_title if qset.drop_titles else None, progress=bar.update)
    bar.close()
    if report.failed:
        for failure in report.failed[:5]:
            log(f"failed: {failure['file']}: {failure['reason']}")
    log(f"index: {report.documents_total} documents, {report.chunks_total} chunks "
        f"({len(report.added) + len(report.updated)} (re)indexed, {report.chunks_embedded} embedded, "
        f"{report.seconds:.1f} s)")
    index_stats = {"seconds": round(report.seconds, 2), "documents_indexed": len(report.added) + len(report.updated),
                   "chunks_embedded": report.chunks_embedded, "peak_rss_mb": peak_rss_mb()}
    indexed = {d.doc_id for d in pipeline.records.documents()}
    by_id = {q.id: q for q in questions}
    results: dict[str, dict[str, Any]] = {}
    for mode in run.modes:
        pipeline.ask(questions[0].question, mode=mode, generative=False)  # warm-up: model load, caches
        rows = []
        bar = ProgressBar(f"asking ({mode})", "q", run.progress)
        for i, q in enumerate(questions, start=1):
            answer = pipeline.ask(q.question, mode=mode, generative=False)
            rows.append({"id": q.id, "retrieved_doc_ids": list(answer.retrieved_doc_ids), "answer": answer.answer,
                         "abstained": answer.abstained, "citations": [_citation_row(c) for c in answer.citations],
                         "latency_ms": answer.timings_ms.get(LATENCY_KEY)})
            bar.update(i, len(questions), mode)
        bar.close()
        results[mode] = {**summarize(rows, by_id, indexed), "mode": mode, "per_question": rows}
    main_mode = "hybrid" if "hybrid" in results else run.modes[0]
    if settings.llm != "none":  # eval --llm ...: generative answers reported next to the extractive ones
        results["generative"] = _generative_run(pipeline, questions, by_id, indexed, main_mode, run.progress)
    out = dict(results[main_mode])
    out.update({"format": qset.format, "questions_file": str(run.questions_path), "corpus": str(run.corpus),
                "questions_limit": run.limit, "corpus_limit": run.corpus_limit, "seed": run.seed, "titles_indexed": not qset.drop_titles,
                "documents": report.documents_total, "chunks": report.chunks_total, "indexing": index_stats,
                "settings": settings_snapshot(settings, EVAL_SETTINGS)})
    if len(results) > 1:
        out["compare"] = results
    return out


METRICS = ("recall_at_1", "recall_at_5", "recall_at_10", "mrr_at_10", "answer_hit", "citation_precision",
           "highlight_em", "highlight_f1", "dangling_rate", "sentences_per_answer", "abstention_rate", "latency_ms_p50", "latency_ms_p95", "fallback_rate", "supported_sentence_rate")


def _generative_run(pipeline: Any, questions: list[Question], by_id: dict[str, Question], indexed: set[str],
                    mode: str, progress: bool) -> dict[str, Any]:
    """The same questions answered by the configured language model, verified, on the same retrieval."""
    settings = pipeline.settings
    pipeline.ask(questions[0].question, mode=mode)  # warm-up: the model loads or the server wakes
    rows = []
    bar = ProgressBar(f"asking ({settings.llm})", "q", progress)
    for i, q in enumerate(questions, start=1):
        answer = pipeline.ask(q.question, mode=mode)
        rows.append({"id": q.id, "retrieved_doc_ids": list(answer.retrieved_doc_ids), "answer": answer.answer,
                     "abstained": answer.abstained, "citations": [_citation_row(c) for c in answer.citations],
                     "latency_ms": answer.timings_ms.get(LATENCY_KEY), "answer_mode": answer.mode,
                     "fallback_reason": answer.fallback_reason, "sentences": len(answer.sentences),
                     "supported": sum(1 for s in answer.sentences if s.supported)})
        bar.update(i, len(questions), settings.llm)
    bar.close()
    generated = [r for r in rows if r["answer_mode"] == "generative"]
    n_sentences = sum(r["sentences"] for r in generated)
    return {**summarize(rows, by_id, indexed), "mode": mode, "llm": settings.llm, "llm_model": settings.llm_model,
            "fallback_rate": rounded_mean([0.0 if r["answer_mode"] == "generative" else 1.0 for r in rows]),
            "supported_sentence_rate": round(sum(r["supported"] for r in generated) / n_sentences, 4)
            if n_sentences else None,
            "per_question": rows}


def _citation_row(c: Any) -> dict[str, Any]:
    return {"doc_id": c.doc_id, "quote": c.quote, "start": c.start, "end": c.end,
            "highlight": getattr(c, "highlight", None)}


def format_table(report: dict[str, Any]) -> str:
    runs = report.get("compare") or {report.get("mode", "hybrid"): report}
    header = f"{'metric':<20}" + "".join(f"{m:>12}" for m in runs)
    lines = [f"{report['format']} questions: n={report['n']} "
             f"({report['n_gold_indexed']} with their gold document in the index)", header, "-" * len(header)]
    for metric in METRICS:
        if metric in ("fallback_rate", "supported_sentence_rate") and all(r.get(metric) is None for r in runs.values()):
            continue  # generative-only rows, shown with eval --llm
        cells = []
        for r in runs.values():
            v = r.get(metric)
            cells.append(f"{'-':>12}" if v is None else f"{v:>12.1f}" if metric.startswith("latency")
                         else f"{v:>12.3f}")
        lines.append(f"{metric:<20}" + "".join(cells))
    return "\n".join(lines)


# -- CLI ---------------------------------------------------------------------------------------

def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """Adds `eval` to the CLI's subcommands."""
    p = subparsers.add_parser("eval", parents=[common], help="measure retrieval and answers on a question set")
    p.add_argument("--questions", type=Path, required=True,
                   help="JSONL questions: PIAF, known-item (query + relevant_doc_ids) or generic (question)")
    p.add_argument("--corpus", type=Path, required=True, help="corpus file or folder to index and ask")
    p.add_argument("--out", type=Path, help="write the JSON report (with per-question rows) here")
    p.add_argument("--questions-limit", type=int, help="ask only N questions")
    p.add_argument("--corpus-limit", type=int, help="index only the first N articles of a .jsonl corpus")
    p.add_argument("--seed", type=int, help="shuffle the questions with this seed before --questions-limit")
    p.add_argument("--compare", action="store_true",
                   help="also run dense-only and keyword-only on the same index, side by side")
    p.add_argument("--mode", choices=MODES, default="hybrid", help="retrieval mode (without --compare)")
    p.set_defaults(handler=cmd_eval)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    for name in ("questions_limit", "corpus_limit"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
    run = EvalRun(questions_path=args.questions, corpus=args.corpus, limit=args.questions_limit, seed=args.seed,
                  modes=MODES if args.compare else (args.mode,), progress=not args.json,
                  corpus_limit=args.corpus_limit)
    report = run_eval(run, settings)
    write_report(report, args.out)
    if args.json:
        print_json(_without_rows(report))
    else:
        print(format_table(report))
        if args.out:
            print(f"report written to {args.out}")
    return 0


def _without_rows(report: dict[str, Any]) -> dict[str, Any]:
    """The report without its per-question rows (those go to --out): what `--json` prints."""
    slim = {k: v for k, v in report.items() if k not in ("per_question", "compare")}
    if "compare" in report:
        slim["compare"] = {m: {k: v for k, v in r.items() if k != "per_question"}
                           for m, r in report["compare"].items()}
    return slim

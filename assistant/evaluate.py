"""`dispatch-qa eval`: retrieval and answer quality of the assistant on a question set.

Every question goes through `Pipeline.ask`, the path the CLI and the web chat take, so the
figures describe what a user gets. The metric functions are pure so they can be unit-tested
and so anyone can recompute the report from its per-question rows.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from assistant.progress import ProgressBar
from assistant.settings import Settings

MODES = ("dense", "keyword", "hybrid")
LATENCY_KEY = "total"


class EvalError(ValueError):
    """The questions or corpus file cannot be used; the message names the file and why."""


@dataclass(frozen=True)
class Question:
    id: str
    question: str
    answers: tuple[str, ...] = ()
    relevant_doc_ids: tuple[str, ...] = ()


@dataclass
class QuestionSet:
    format: str  # "piaf" | "known-item" | "generic"
    questions: list[Question] = field(default_factory=list)

    @property
    def drop_titles(self) -> bool:
        # A headline query against its own article's title would be a string match, not retrieval.
        return self.format == "known-item"


# -- loading -----------------------------------------------------------------------------------

def detect_format(record: dict[str, Any]) -> str:
    if "context_id" in record and "question" in record:
        return "piaf"
    if "query" in record and "relevant_doc_ids" in record:
        return "known-item"
    if "question" in record:
        return "generic"
    raise EvalError("expected `question` (generic or PIAF) or `query` + `relevant_doc_ids` (known-item)")


def load_questions(path: Path) -> QuestionSet:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise EvalError(f"{path}: no such questions file") from None
    except UnicodeDecodeError:
        raise EvalError(f"{path}: not UTF-8 text") from None
    qset: QuestionSet | None = None
    seen: set[str] = set()
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{where}: malformed JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise EvalError(f"{where}: expected a JSON object")
        if qset is None:
            try:
                qset = QuestionSet(format=detect_format(record))
            except EvalError as exc:
                raise EvalError(f"{where}: {exc}") from None
        q = _question(record, qset.format, where, len(qset.questions))
        if q.id in seen:
            raise EvalError(f"{where}: duplicate question id '{q.id}'")
        seen.add(q.id)
        qset.questions.append(q)
    if qset is None or not qset.questions:
        raise EvalError(f"{path}: no questions")
    return qset


def _question(record: dict[str, Any], fmt: str, where: str, n: int) -> Question:
    text = record.get("query" if fmt == "known-item" else "question")
    if not isinstance(text, str) or not text.strip():
        key = "query" if fmt == "known-item" else "question"
        raise EvalError(f"{where}: `{key}` must be a non-empty string")
    answers = _str_list(record.get("answers"), "answers", where)
    if fmt == "piaf":
        if not record.get("context_id"):
            raise EvalError(f"{where}: `context_id` is empty")
        relevant = (str(record["context_id"]),)
    else:
        relevant = _str_list(record.get("relevant_doc_ids"), "relevant_doc_ids", where)
    qid = str(record.get("id") or f"q{n + 1}")
    return Question(id=qid, question=text.strip(), answers=answers, relevant_doc_ids=relevant)


def _str_list(value: Any, name: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, (str, int)) for v in value):
        raise EvalError(f"{where}: `{name}` must be a list of strings")
    return tuple(str(v) for v in value if str(v).strip())


def sample(questions: list[Question], limit: int | None, seed: int | None) -> list[Question]:
    """A reproducible subset: shuffled by seed when one is given, else the file's first N."""
    out = list(questions)
    if seed is not None:
        random.Random(seed).shuffle(out)
    return out[:limit] if limit else out


def drop_title(dispatch: Any) -> Any:
    from index.dispatch import dispatch_hash

    bare = replace(dispatch, title=None)
    return replace(bare, content_hash=dispatch_hash(bare))


# -- metrics (pure) ----------------------------------------------------------------------------

_MARKER_RE = re.compile(r"\[\d+\]")
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00ab": '"', "\u00bb": '"'})


def normalize_answer(text: str) -> str:
    """Accents stripped, casefolded, citation markers and extra spaces removed."""
    text = _MARKER_RE.sub(" ", text).translate(_QUOTES)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(text.split())


def answer_hit(answer: str, gold: tuple[str, ...] | list[str], abstained: bool) -> bool:
    if abstained:
        return False
    norm = normalize_answer(answer)
    return any(g_norm and g_norm in norm for g_norm in (normalize_answer(g) for g in gold))


_ARTICLES_RE = re.compile(r"\b(?:le|la|les|l|un|une|des|du|de|d|au|aux)\b")


def normalize_span(text: str) -> str:
    """SQuAD-style normalisation for French: lower case, accents, punctuation and articles stripped."""
    text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = re.sub(r"[^\w\s]", " ", text)
    return " ".join(_ARTICLES_RE.sub(" ", text).split())


def span_exact_match(predicted: str | None, gold: tuple[str, ...] | list[str]) -> float:
    if predicted is None or not gold:
        return 0.0
    return 1.0 if any(normalize_span(predicted) == normalize_span(g) for g in gold) else 0.0


def span_f1(predicted: str | None, gold: tuple[str, ...] | list[str]) -> float:
    """Best token F1 against any gold answer; a missing prediction scores 0."""
    if predicted is None or not gold:
        return 0.0
    pred = normalize_span(predicted).split()
    best = 0.0
    for g in gold:
        ref = normalize_span(g).split()
        common = sum(min(pred.count(t), ref.count(t)) for t in set(pred))
        if not pred or not ref or not common:
            continue
        p, r = common / len(pred), common / len(ref)
        best = max(best, 2 * p * r / (p + r))
    return best


def dangling_answer(answer: str) -> bool:
    """Whether the answer opens on a subject pronoun (il, elle, ils, elles) used as a reference."""
    from assistant.antecedent import dangles

    return dangles(answer)


def citation_doc_id(citation: Any) -> str:
    """Rows carry full citation objects; older reports carried bare doc ids."""
    return citation if isinstance(citation, str) else citation["doc_id"]


def highlighted_text(citation: Any) -> str | None:
    if isinstance(citation, str) or not citation.get("highlight"):
        return None
    h, start = citation["highlight"], citation["start"]
    return citation["quote"][h["start"] - start:h["end"] - start]


def recall_at(ranked: list[str], relevant: set[str], k: int) -> float:
    return 1.0 if any(d in relevant for d in ranked[:k]) else 0.0


def reciprocal_rank(ranked: list[str], relevant: set[str], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k], start=1):
        if d in relevant:
            return 1.0 / i
    return 0.0


def percentile(values: list[float], pct: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * pct / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def summarize(rows: list[dict[str, Any]], questions: dict[str, Question], indexed: set[str]) -> dict[str, Any]:
    """The report's figures from its per-question rows.

    Retrieval metrics and citation precision count only questions whose gold documents are in
    the index at all; when none is (the abstention check), they are null rather than zero.
    """
    retr: list[dict[str, Any]] = []
    hits: list[float] = []
    em: list[float] = []
    f1: list[float] = []
    cited = cited_gold = 0
    for row in rows:
        q = questions[row["id"]]
        gold = set(q.relevant_doc_ids)
        gold_indexed = bool(gold & indexed)
        if gold_indexed:
            retr.append({"ranked": row["retrieved_doc_ids"], "gold": gold})
            if not row["abstained"]:
                cited += len(row["citations"])
                cited_gold += sum(1 for c in row["citations"] if citation_doc_id(c) in gold)
        if q.answers and (gold_indexed or not gold):
            hits.append(1.0 if answer_hit(row["answer"], q.answers, row["abstained"]) else 0.0)
            first = None if row["abstained"] or not row["citations"] else highlighted_text(row["citations"][0])
            em.append(span_exact_match(first, q.answers))
            f1.append(span_f1(first, q.answers))
    latencies = [row["latency_ms"] for row in rows if row.get("latency_ms") is not None]
    answered = [row for row in rows if not row["abstained"]]
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    return {
        "n": len(rows),
        "n_gold_indexed": len(retr),
        "recall_at_1": _mean([recall_at(r["ranked"], r["gold"], 1) for r in retr]),
        "recall_at_5": _mean([recall_at(r["ranked"], r["gold"], 5) for r in retr]),
        "recall_at_10": _mean([recall_at(r["ranked"], r["gold"], 10) for r in retr]),
        "mrr_at_10": _mean([reciprocal_rank(r["ranked"], r["gold"], 10) for r in retr]),
        "answer_hit": _mean(hits),
        "citation_precision": round(cited_gold / cited, 4) if cited else None,
        "highlight_em": _mean(em),
        "highlight_f1": _mean(f1),
        "dangling_rate": _mean([1.0 if dangling_answer(r["answer"]) else 0.0 for r in answered]),
        "sentences_per_answer": _mean([float(len(r["citations"])) for r in answered]),
        "abstention_rate": _mean([1.0 if row["abstained"] else 0.0 for row in rows]),
        "latency_ms_p50": round(p50, 2) if p50 is not None else None,
        "latency_ms_p95": round(p95, 2) if p95 is not None else None,
    }


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
                   "chunks_embedded": report.chunks_embedded, "peak_rss_mb": _peak_rss_mb()}
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
                "settings": _settings_snapshot(settings)})
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
            "fallback_rate": _mean([0.0 if r["answer_mode"] == "generative" else 1.0 for r in rows]),
            "supported_sentence_rate": round(sum(r["supported"] for r in generated) / n_sentences, 4)
            if n_sentences else None,
            "per_question": rows}


def _citation_row(c: Any) -> dict[str, Any]:
    return {"doc_id": c.doc_id, "quote": c.quote, "start": c.start, "end": c.end,
            "highlight": getattr(c, "highlight", None)}


def _settings_snapshot(settings: Settings) -> dict[str, Any]:
    names = ("embedding_model", "embedding_backend", "chunk_max_tokens", "chunk_overlap_sentences", "embed_titles",
             "top_k", "dense_weight", "candidate_k", "bm25_k1", "bm25_b", "answer_max_sentences",
             "abstain_threshold", "llm", "llm_model")
    return {n: getattr(settings, n) for n in names}


def _peak_rss_mb() -> float:
    import resource

    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


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

def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("eval", parents=[common], help="measure retrieval and answers on a question set")
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

    from assistant import bench

    bench.add_parser(sub, common)


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.cli import CommandError

    for name in ("questions_limit", "corpus_limit"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise CommandError(f"--{name.replace('_', '-')} must be at least 1")
    run = EvalRun(questions_path=args.questions, corpus=args.corpus, limit=args.questions_limit, seed=args.seed,
                  modes=MODES if args.compare else (args.mode,), progress=not args.json,
                  corpus_limit=args.corpus_limit)
    try:
        report = run_eval(run, settings)
    except EvalError as exc:
        raise CommandError(str(exc)) from None
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    if args.json:
        slim = {k: v for k, v in report.items() if k not in ("per_question", "compare")}
        if "compare" in report:
            slim["compare"] = {m: {k: v for k, v in r.items() if k != "per_question"}
                               for m, r in report["compare"].items()}
        sys.stdout.write(json.dumps(slim, ensure_ascii=False, indent=2) + "\n")
    else:
        print(format_table(report))
        if args.out:
            print(f"report written to {args.out}")
    return 0

"""`dispatch-qa bench`: indexing throughput and query latency, each against raw baselines run alongside.

Every baseline is measured in the same process and the same run as the project's figure, so the
ratios hold even on a machine shared with other work: absolute numbers move with the load, the
ratios much less.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from assistant import bench_html, bench_scale, bench_speakers, bench_versions
from assistant.errors import CommandError, DispatchQAError
from assistant.metrics import percentile
from assistant.questions import load_questions
from assistant.reporting import peak_rss_mb, print_json, settings_snapshot, write_report
from assistant.settings import Settings


class BenchError(DispatchQAError, ValueError):
    """The bench cannot run with these inputs; the message says why."""


def register(subparsers: Any, common: argparse.ArgumentParser) -> Any:
    """Adds `bench` to the CLI's subcommands; returns the subparsers of `bench <what>`, where a module
    adding a bench of its own registers its parser."""
    p = subparsers.add_parser("bench", parents=[common], help="benchmark indexing throughput and query latency")
    bench_subparsers = p.add_subparsers(dest="bench_command", required=True, metavar="WHAT")
    _register_ingest(bench_subparsers, common)
    _register_query(bench_subparsers, common)
    return bench_subparsers


def _register_ingest(bench_subparsers: Any, common: argparse.ArgumentParser) -> None:
    i = bench_subparsers.add_parser("ingest", parents=[common],
                                    help="indexing throughput vs raw encode and plain llama-index")
    i.add_argument("--corpus", type=Path, required=True, help="JSONL corpus (one article per line)")
    i.add_argument("--limit", type=int, default=1000, help="first N articles of the corpus [default: 1000]")
    i.add_argument("--out", type=Path, help="write the JSON report here")
    i.add_argument("--work-dir", type=Path,
                   help="where the bench index goes (default: a temporary folder, removed afterwards)")
    i.add_argument("--skip-baselines", action="store_true",
                   help="only the project's indexing and re-indexing (for the long full-corpus run)")
    i.add_argument("--skip-llama", action="store_true", help="leave out the plain llama-index baseline")
    i.add_argument("--models", help="comma-separated embedding models measured one after the other in this run, "
                                    "each against its own raw encode (default: the embedding_model setting)")
    i.set_defaults(handler=cmd_ingest)


def _register_query(bench_subparsers: Any, common: argparse.ArgumentParser) -> None:
    q = bench_subparsers.add_parser("query", parents=[common], help="ask latency vs the raw retrieval components")
    q.add_argument("--corpus", type=Path,
                   help="JSONL corpus to index into --data-dir first (its first --limit articles); "
                        "without it, the index already in --data-dir is used")
    q.add_argument("--limit", type=int, default=1000, help="first N articles of --corpus [default: 1000]")
    q.add_argument("--questions", type=Path,
                   help="questions file (any format `eval` reads); default: headlines of indexed articles")
    q.add_argument("--n", type=int, default=200, help="questions asked [default: 200]")
    q.add_argument("--seed", type=int, default=0, help="sampling seed [default: 0]")
    q.add_argument("--out", type=Path, help="write the JSON report here")
    q.set_defaults(handler=cmd_query)
    bench_html.add_parser(bench_subparsers, common)
    bench_speakers.add_parser(bench_subparsers, common)
    bench_versions.add_parser(bench_subparsers, common)
    bench_scale.add_parser(bench_subparsers, common)


# -- shared ------------------------------------------------------------------------------------

def machine() -> dict[str, Any]:
    import os

    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "torch": torch.__version__,
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def read_articles(corpus: Path, limit: int) -> list[str]:
    """The corpus's first `limit` lines, validated as JSON objects with a `text`."""
    if corpus.suffix != ".jsonl" or not corpus.is_file():
        raise BenchError(f"{corpus}: bench needs a JSONL corpus file (one article per line)")
    lines: list[str] = []
    with corpus.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BenchError(f"{corpus}:{lineno}: malformed JSON ({exc.msg})") from None
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise BenchError(f"{corpus}:{lineno}: expected an object with a `text` string")
            lines.append(line.rstrip("\n"))
            if len(lines) >= limit:
                break
    if not lines:
        raise BenchError(f"{corpus}: no articles")
    return lines


def _write(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- ingest ------------------------------------------------------------------------------------

def chunk_texts(pipeline: Any) -> list[str]:
    """Exactly the texts the project embedded (title prefix included), from its records."""
    from index.chunk_ids import embed_text_for

    docs = {d.doc_id: d for d in pipeline.records.documents()}
    texts = []
    for batch in pipeline.records.iter_chunks():
        for c in batch:
            doc = docs[c.doc_id]
            texts.append(embed_text_for(doc.title if pipeline.settings.embed_titles else None,
                                        doc.text[c.start:c.end], pipeline.settings.embed_titles))
    return texts


def raw_encode(embedder: Any, texts: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of the bare encoder on `texts`: SentenceTransformer.encode, or the ONNX session."""
    import torch

    model = embedder.model
    started, cpu = time.perf_counter(), time.process_time()
    prompt = embedder.passage_prompt
    if embedder._onnx is not None:
        embedder._onnx.encode([prompt + t for t in texts], embedder.batch_size)
    else:
        with torch.inference_mode():
            model.encode(texts, prompt=prompt or None, batch_size=embedder.batch_size, normalize_embeddings=True,
                         convert_to_numpy=True)
    return time.perf_counter() - started, time.process_time() - cpu


def llama_index_baseline(model_path: str, articles: list[dict[str, Any]], max_tokens: int,
                         batch_size: int, passage_prompt: str = "") -> dict[str, Any]:
    """What a user would write: VectorStoreIndex.from_documents with the same model, fp32.

    Its splitter gets chunks that fit the model window (counted with the model's tokenizer):
    the 1024-token default would be silently truncated, embedding less text than we do.
    """
    from llama_index.core import Document, VectorStoreIndex
    from llama_index.core import Settings as LlamaSettings
    from llama_index.core.node_parser import SentenceSplitter
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    embed = HuggingFaceEmbedding(model_name=model_path, max_length=max_tokens + 8, embed_batch_size=batch_size,
                                 device="cpu", text_instruction=passage_prompt or None)
    embed.get_text_embedding("échauffement")
    tokenizer = embed._model.tokenizer
    splitter = SentenceSplitter(chunk_size=max_tokens, chunk_overlap=20,
                                tokenizer=lambda t: tokenizer(t, add_special_tokens=False)["input_ids"])
    LlamaSettings.llm = None
    docs = [Document(text=a["text"], metadata={"title": a.get("title") or ""}) for a in articles]
    started, cpu = time.perf_counter(), time.process_time()
    index = VectorStoreIndex.from_documents(docs, embed_model=embed, transformations=[splitter])
    seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    nodes = len(index.docstore.docs)
    return {"seconds": round(seconds, 2), "cpu_seconds": round(cpu_s, 2), "documents": len(docs), "chunks": nodes,
            "documents_per_s": round(len(docs) / seconds, 2), "chunks_per_s": round(nodes / seconds, 2),
            "chunk_size_tokens": max_tokens, "chunk_overlap_tokens": 20, "backend": "torch fp32"}


INGEST_SETTINGS = ("embedding_model", "embedding_backend", "embedding_batch_size", "embedding_threads",
                   "chunk_max_tokens", "chunk_overlap_sentences", "embed_titles")


def run_ingest(settings: Settings, corpus: Path, limit: int, work: Path, skip_baselines: bool,
               skip_llama: bool) -> dict[str, Any]:
    from assistant.pipeline import open_pipeline

    extra_n = max(1, math.ceil(limit / 100))
    lines = read_articles(corpus, limit + extra_n)
    base, extra = lines[:limit], lines[limit:]
    subset = work / "corpus" / "articles.jsonl"
    _write(subset, base)
    pipeline = open_pipeline(settings.replace(data_dir=work / "index"))
    if pipeline.records.counts()[0]:
        raise BenchError(f"{work / 'index'} already holds an index; give an empty --work-dir")
    report: dict[str, Any] = {"machine": machine(), "corpus": str(corpus), "limit": len(base),
                              "settings": settings_snapshot(settings, INGEST_SETTINGS)}
    report["settings"]["embedding_model"] = pipeline.embedder.model_name
    report["settings"]["embedding_backend"] = pipeline.embedder.backend  # `auto` resolved
    started = time.perf_counter()
    pipeline.embedder.embed(["échauffement"])  # model load is a one-off, reported apart
    report["model_load_s"] = round(time.perf_counter() - started, 2)
    _measure_indexing(pipeline, subset, base, extra, report)
    if skip_baselines:
        return report
    _measure_baselines(pipeline, settings, base, skip_llama, report)
    report["ratios"] = ratios(report)
    report["peak_rss_mb_whole_run"] = peak_rss_mb()
    return report


def _measure_indexing(pipeline: Any, subset: Path, base: list[str], extra: list[str],
                      report: dict[str, Any]) -> None:
    """The project's full indexing of `base`, then re-indexing it unchanged and grown by `extra`."""
    _log(f"project indexing of {len(base)} articles ({pipeline.embedder.model_name}, {pipeline.embedder.backend})...")
    cpu = time.process_time()
    full = pipeline.index([subset])
    project_cpu = time.process_time() - cpu
    if full.failed:
        raise BenchError(f"indexing failed: {full.failed[0]['file']}: {full.failed[0]['reason']}")
    report["project"] = {"seconds": round(full.seconds, 2), "documents": full.documents_total,
                         "chunks": full.chunks_total, "chunks_embedded": full.chunks_embedded,
                         "documents_per_s": round(full.documents_total / full.seconds, 2),
                         "chunks_per_s": round(full.chunks_embedded / full.seconds, 2),
                         "cpu_seconds": round(project_cpu, 2), "peak_rss_mb": peak_rss_mb()}
    _log(f"  {report['project']}")

    before = pipeline.embedder.embedded_count
    again = pipeline.index([subset])
    report["reindex_unchanged"] = {"seconds": round(again.seconds, 2),
                                   "chunks_embedded": pipeline.embedder.embedded_count - before,
                                   "share_of_full": round(again.seconds / full.seconds, 4)}
    _log(f"  re-index unchanged: {report['reindex_unchanged']}")
    _write(subset, base + extra)
    before = pipeline.embedder.embedded_count
    grown = pipeline.index([subset])
    report["reindex_plus_1pct"] = {"seconds": round(grown.seconds, 2), "documents_added": len(grown.added),
                                   "chunks_embedded": pipeline.embedder.embedded_count - before,
                                   "share_of_full": round(grown.seconds / full.seconds, 4)}
    _log(f"  re-index + {len(extra)} new: {report['reindex_plus_1pct']}")
    _write(subset, base)
    pipeline.index([subset])  # back to the measured set, so the raw encode sees the same chunks


def _measure_baselines(pipeline: Any, settings: Settings, base: list[str], skip_llama: bool,
                       report: dict[str, Any]) -> None:
    """The bare encoder on the very chunk texts the project embedded (and in fp32), then plain llama-index."""
    from index.embedding import Embedder, resolve_model_path

    backend = pipeline.embedder.backend
    texts = chunk_texts(pipeline)
    _log(f"raw encode of the same {len(texts)} chunk texts ({backend})...")
    seconds, cpu_s = raw_encode(pipeline.embedder, texts)
    report["raw_encode"] = {"backend": backend, "seconds": round(seconds, 2),
                            "cpu_seconds": round(cpu_s, 2), "chunks": len(texts),
                            "chunks_per_s": round(len(texts) / seconds, 2)}
    if backend != "torch":
        fp32 = Embedder(pipeline.embedder.model_name, "torch", settings.embedding_batch_size,
                        settings.embedding_threads)
        fp32.embed(["échauffement"])
        seconds, cpu_s = raw_encode(fp32, texts)
        report["raw_encode_fp32"] = {"backend": "torch", "seconds": round(seconds, 2),
                                     "cpu_seconds": round(cpu_s, 2), "chunks": len(texts),
                                     "chunks_per_s": round(len(texts) / seconds, 2)}
    else:
        report["raw_encode_fp32"] = report["raw_encode"]
    _log(f"  {report['raw_encode']} / fp32 {report['raw_encode_fp32']['chunks_per_s']} chunks/s")
    if not skip_llama:
        _log("plain llama-index VectorStoreIndex.from_documents (same model, fp32)...")
        articles = [json.loads(x) for x in base]
        report["llama_index"] = llama_index_baseline(resolve_model_path(pipeline.embedder.model_name), articles,
                                                     pipeline.embedder.max_tokens - 4,
                                                     settings.embedding_batch_size, pipeline.embedder.passage_prompt)
        _log(f"  {report['llama_index']}")


def ratios(report: dict[str, Any]) -> dict[str, float | None]:
    project = report["project"]
    raw = report.get("raw_encode")
    llama = report.get("llama_index")
    fp32 = report.get("raw_encode_fp32")
    return {
        "project_vs_raw_encode_chunks_per_s": round(project["chunks_per_s"] / raw["chunks_per_s"], 3) if raw else None,
        "project_vs_raw_fp32_chunks_per_s": round(project["chunks_per_s"] / fp32["chunks_per_s"], 3) if fp32 else None,
        "project_vs_llama_index_documents_per_s":
            round(project["documents_per_s"] / llama["documents_per_s"], 3) if llama else None,
        "reindex_unchanged_share_of_full": report["reindex_unchanged"]["share_of_full"],
        # The same comparisons in CPU seconds: what the work costs, whatever else the machine runs.
        "cpu_project_vs_raw_encode_chunks_per_cpu_s": _cpu_ratio(project, raw, per="chunks"),
        "cpu_project_vs_raw_fp32_chunks_per_cpu_s": _cpu_ratio(project, fp32, per="chunks"),
        "cpu_project_vs_llama_index_documents_per_cpu_s": _cpu_ratio(project, llama, per="documents"),
    }


def _cpu_ratio(project: dict[str, Any], other: dict[str, Any] | None, per: str) -> float | None:
    if not other or not other.get("cpu_seconds") or not project.get("cpu_seconds"):
        return None
    mine = (project["chunks_embedded"] if per == "chunks" else project["documents"]) / project["cpu_seconds"]
    theirs = other[per] / other["cpu_seconds"]
    return round(mine / theirs, 3)


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise CommandError("--limit must be at least 1")
    models = [m.strip() for m in (args.models or settings.embedding_model).split(",") if m.strip()]
    temp = args.work_dir is None
    work = Path(tempfile.mkdtemp(prefix="dispatch-qa-bench-")) if temp else args.work_dir
    reports = []
    try:
        for n, model in enumerate(models):
            where = work / f"model-{n}" if len(models) > 1 else work
            reports.append(run_ingest(settings.replace(embedding_model=model), args.corpus, args.limit, where,
                                      args.skip_baselines, args.skip_llama))
    finally:
        if temp:
            shutil.rmtree(work, ignore_errors=True)
    report = reports[0] if len(reports) == 1 else {"models": reports}
    write_report(report, args.out)
    if args.json:
        print_json(report)
    else:
        print("\n\n".join(format_ingest(r) for r in reports))
    return 0


def format_ingest(r: dict[str, Any]) -> str:
    p = r["project"]
    lines = [f"{r['settings']['embedding_model']}: {r['limit']} articles, {p['chunks']} chunks "
             f"({r['settings']['embedding_backend']}); "
             f"machine: {r['machine']['cpu']}, {r['machine']['cores']} cores",
             f"project indexing     {p['documents_per_s']:>8.2f} docs/s {p['chunks_per_s']:>8.2f} chunks/s "
             f"({p['seconds']:.1f} s, peak RSS {p['peak_rss_mb']:.0f} MB)"]
    for key, label in (("raw_encode", "raw encode (same)"), ("raw_encode_fp32", "raw encode fp32")):
        if key in r:
            lines.append(f"{label:<20} {'':>8} {'':>6} {r[key]['chunks_per_s']:>8.2f} chunks/s")
    if "llama_index" in r:
        li = r["llama_index"]
        lines.append(f"plain llama-index    {li['documents_per_s']:>8.2f} docs/s {li['chunks_per_s']:>8.2f} chunks/s "
                     f"({li['chunks']} chunks)")
    u, g = r["reindex_unchanged"], r["reindex_plus_1pct"]
    lines.append(f"re-index unchanged   {u['seconds']:.2f} s ({u['share_of_full']:.2%} of full), "
                 f"{u['chunks_embedded']} embedded")
    lines.append(f"re-index +1%         {g['seconds']:.2f} s, {g['documents_added']} added, "
                 f"{g['chunks_embedded']} embedded")
    for k, v in (r.get("ratios") or {}).items():
        if v is not None:
            lines.append(f"{k:<40} {v}")
    return "\n".join(lines)


# -- query -------------------------------------------------------------------------------------

def _time_asks(pipeline: Any, retriever: Any, texts: list[str], cand: int
               ) -> tuple[list[float], list[float], dict[str, list[float]]]:
    """Each question asked through the pipeline, then its raw parts timed bare: the query encode,
    the Chroma and keyword searches, and the encode of the sentences the answer scored."""
    from index.french import analyze

    asks, raws, parts = [], [], {"embed": [], "chroma": [], "keyword": [], "sentences": []}
    sentence_batches: list[list[str]] = []
    real_embed = pipeline.embedder.embed

    def recording_embed(texts: Any, *args: Any, **kwargs: Any) -> Any:
        if not kwargs.get("query"):  # the answer's candidate sentences, scored against the question
            sentence_batches.append(list(texts))
        return real_embed(texts, *args, **kwargs)

    pipeline.embedder.embed = recording_embed  # type: ignore[method-assign]
    try:
        for text in texts:
            pipeline.embedder.forget_queries()  # the ask pays for its own query encode, as a new question does
            sentence_batches.clear()
            started = time.perf_counter()
            pipeline.ask(text)
            asks.append((time.perf_counter() - started) * 1000)
            sentences = [t for batch in sentence_batches for t in batch]
            t0 = time.perf_counter()
            vec = real_embed([text], query=True)[0]  # the bare encode, past the query cache
            t1 = time.perf_counter()
            # The bare Chroma call (ids and distances only), not our wrapper around it.
            retriever.vectors._collection.query(query_embeddings=[vec.tolist()], n_results=cand, include=["distances"])
            t2 = time.perf_counter()
            retriever.keyword.search(analyze(text), cand, None)
            t3 = time.perf_counter()
            if sentences:
                real_embed(sentences)  # the answer's own model call: its sentences against the question
            t4 = time.perf_counter()
            for key, a, b in (("embed", t0, t1), ("chroma", t1, t2), ("keyword", t2, t3), ("sentences", t3, t4)):
                parts[key].append((b - a) * 1000)
            raws.append((t4 - t0) * 1000)
    finally:
        pipeline.embedder.embed = real_embed  # type: ignore[method-assign]

    return asks, raws, parts


def run_query(settings: Settings, corpus: Path | None, limit: int, questions: Path | None, n: int,
              seed: int) -> dict[str, Any]:
    from assistant.pipeline import open_pipeline

    pipeline = open_pipeline(settings)
    if corpus is not None:
        subset = settings.data_dir / "bench-corpus" / "articles.jsonl"
        _write(subset, read_articles(corpus, limit))
        _log(f"indexing {limit} articles into {settings.data_dir} (reused when unchanged)...")
        pipeline.index([subset])
    docs = pipeline.records.documents()
    if not docs:
        raise BenchError(f"{settings.data_dir}: the index is empty; give --corpus")
    rng = random.Random(seed)
    if questions is not None:
        texts = [q.question for q in load_questions(questions).questions]
    else:
        texts = [d.title for d in docs if d.title]
    if not texts:
        raise BenchError(f"{settings.data_dir}: no indexed document has a title to ask; give --questions")
    rng.shuffle(texts)
    texts = texts[:n]
    retriever = pipeline.retriever()
    cand = settings.candidate_k
    pipeline.ask(texts[0])  # warm-up
    asks, raws, parts = _time_asks(pipeline, retriever, texts, cand)

    def pcts(values: list[float]) -> dict[str, float]:
        return {"p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2)}

    ask, raw = pcts(asks), pcts(raws)
    n_docs, n_chunks = pipeline.records.counts()
    return {"machine": machine(), "documents": n_docs, "chunks": n_chunks, "questions": len(texts),
            "ask_ms": ask, "raw_components_ms": raw, "components_ms": {k: pcts(v) for k, v in parts.items()},
            "ratio_p50": round(ask["p50"] / raw["p50"], 3), "ratio_p95": round(ask["p95"] / raw["p95"], 3),
            "settings": {k: getattr(settings, k) for k in ("embedding_backend", "top_k", "candidate_k")}}


def cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    report = run_query(settings, args.corpus, args.limit, args.questions, args.n, args.seed)
    write_report(report, args.out)
    if args.json:
        print_json(report)
    else:
        a, r = report["ask_ms"], report["raw_components_ms"]
        print(f"{report['questions']} questions on {report['documents']} documents ({report['chunks']} chunks)\n"
              f"ask             p50 {a['p50']:>8.1f} ms  p95 {a['p95']:>8.1f} ms\n"
              f"raw components  p50 {r['p50']:>8.1f} ms  p95 {r['p95']:>8.1f} ms\n"
              f"ratio           p50 {report['ratio_p50']:>8.2f}     p95 {report['ratio_p95']:>8.2f}")
    return 0

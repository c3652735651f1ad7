"""`dispatch-qa bench scale`: an archive of N chunks built through the real sync, then timed.

The archive is the news corpus replicated under new ids (assistant/scale_replicas.py), written as
JSONL files and indexed by Pipeline.index like any folder; only the encoder is replaced: each
distinct chunk is encoded once (or its vector read from an existing index of the corpus) and its
replicas reuse it. Everything else (chunking, French analysis, version linking, records, Chroma,
the keyword index) is the project's own code, whatever keyword engine is in place.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from assistant import scale_processes as procs
from assistant.errors import CommandError
from assistant.reporting import print_json
from assistant.scale_replicas import (
    ReplicaEmbedder,
    all_sentence_keys,
    corpus_titles,
    fill_plan,
    read_corpus,
    replicas,
    write_jsonl,
)
from assistant.settings import Settings

REPO = Path(__file__).resolve().parent.parent
NEW_DISPATCH = REPO / "seeds" / "000_fb850ab909d3a4ae.txt"  # the "+1 dispatch": unseen text, really encoded
INBOX_DISPATCH = REPO / "seeds" / "004_da38df29cfe89a6a.txt"  # the other seed, into a folder of its own


def add_parser(bench_subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = bench_subparsers.add_parser("scale", parents=[common],
                                    help="a replicated archive of N chunks: build, query, memory, cold starts, +1 sync")
    p.add_argument("--chunks", type=int, required=True, help="chunks in the synthetic archive")
    p.add_argument("--corpus", type=Path, required=True, help="JSONL corpus to replicate (id, title, text...)")
    p.add_argument("--store-modes", default="embedded", help="comma-separated: embedded,server [default: embedded]")
    p.add_argument("--vectors-from", type=Path, help="data dir of an index of this corpus: its vectors are reused")
    p.add_argument("--questions", type=Path,
                   default=REPO.parent / "shared" / "data" / "orangesum_headline_dev_queries.jsonl",
                   help="JSONL questions ('query' or 'question' field)")
    p.add_argument("--n-questions", type=int, default=300, help="questions timed in process [default: 300]")
    p.add_argument("--serve-questions", type=int, default=50,
                   help="questions asked through the serve process's API [default: 50]")
    p.add_argument("--work", type=Path, default=Path("/tmp/scale"), help="where archives and indexes go")
    p.add_argument("--build", choices=("bulk", "sync"), default="bulk",
                   help="replicas K >= 1: bulk-written from replica 0's records, or a real sync [default: bulk]")
    p.add_argument("--bulk-workers", type=int, default=2, help="processes preparing replicas [default: 2]")
    p.add_argument("--profile-dir", type=Path,
                   help="also write cProfile summaries of the inbox +1 sync and of an `ask` cold start here")
    p.add_argument("--reuse-signatures", action="store_true",
                   help="bulk: a replica takes its original's MinHash signature and vector key (faster; see scale.md)")
    p.add_argument("--resume", action="store_true",
                   help="keep WORK/<mode>-N and, if its records hold replica 0 only, start from there")
    p.add_argument("--keep", action="store_true", help="keep the data dirs afterwards")
    p.add_argument("--out", type=Path, help="write the JSON list here (rewritten after each store mode)")
    p.set_defaults(handler=cmd_scale)


def cmd_scale(args: argparse.Namespace, settings: Settings) -> int:
    modes = [m.strip() for m in args.store_modes.split(",") if m.strip()]
    bad = [m for m in modes if m not in ("embedded", "server")]
    if bad or not modes:
        raise CommandError(f"--store-modes: expected embedded and/or server, got '{args.store_modes}'")
    if args.chunks < 1:
        raise CommandError("--chunks must be at least 1")
    if not args.corpus.is_file():
        raise CommandError(f"{args.corpus}: no such corpus file")
    questions = read_questions(args.questions, args.n_questions)
    results: list[dict[str, Any]] = []
    for mode in modes:
        results.append(run_mode(settings, args, mode, questions))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print_json(results)
    return 0


def read_questions(path: Path, limit: int) -> list[str]:
    if not path.is_file():
        raise CommandError(f"{path}: no such questions file")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and len(out) < limit:
            record = json.loads(line)
            text = record.get("query") or record.get("question") if isinstance(record, dict) else None
            if not text:
                raise CommandError(f"{path}: line {n}: no 'query' or 'question' field")
            out.append(text)
    return out


def known_vectors(data_dir: Path, embedder_identity: str) -> dict[str, Any]:
    """Sentence key -> vector of the chunk holding that sentence, for every chunk of an existing
    index (opened read-only). Vectors of the same model; the chunks need not be cut identically."""
    import numpy as np

    path = data_dir / "records.sqlite"
    if not path.is_file():
        raise CommandError(f"--vectors-from: {path} not found")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        meta = dict(db.execute("SELECT key, value FROM meta"))
        for key, wanted in (("embedding_model", embedder_identity),):
            if meta.get(key) != wanted:
                raise CommandError(f"--vectors-from: {data_dir} was built with {key} '{meta.get(key)}', "
                                   f"these settings use '{wanted}'")
        rows = db.execute("SELECT d.text, c.start, c.end, v.vector FROM chunks c "
                          "JOIN documents d ON d.doc_id = c.doc_id JOIN vectors v ON v.embed_hash = c.embed_hash")
        known: dict[str, Any] = {}
        for text, start, end, blob in rows:
            vector = np.frombuffer(blob, dtype=np.float32)
            for key in all_sentence_keys(text[start:end]):
                known.setdefault(key, vector)
        return known
    finally:
        db.close()


def build(pipeline: Any, corpus: list[dict[str, Any]], args: argparse.Namespace, root: Path) -> dict[str, Any]:
    """Replica 0 (the corpus itself) through `Pipeline.index`, then as many replicas as reach
    `--chunks`: bulk-written (assistant/scale_bulk.py) or, with `--build sync`, one more
    `Pipeline.index` of the folder. Writing the files is not timed on the sync path."""
    resumed = args.resume and (root / "r0000.jsonl").is_file() and pipeline.records.counts()[1] > 0
    if resumed:  # replica 0 indexed by an earlier run of the same command (--resume)
        first_s, first_chunks = None, pipeline.records.counts()[1]
    else:
        write_jsonl(root / "r0000.jsonl", replicas(corpus, 0))
        first = pipeline.index([root])
        if first.failed:
            raise CommandError(f"indexing the archive failed: {first.failed[:3]}")
        first_s, first_chunks = round(first.seconds, 1), first.chunks_total
    by_id = {d.doc_id: d.n_chunks for d in pipeline.records.documents()}
    if any("#r" in d for d in by_id):
        raise CommandError(f"--resume: {root} already holds replicas beyond the first; start again without it")
    order = [(str(r["id"]), by_id[str(r["id"])]) for r in corpus if str(r["id"]) in by_id]
    plan, left = [], args.chunks - first_chunks
    while left > 0 and order:
        ids = fill_plan(order, left)
        if not ids:
            break
        plan.append((len(plan) + 1, ids))
        left -= sum(by_id[i] for i in ids)
    out: dict[str, Any] = {"build_first_replica_s": first_s, "replicas": len(plan) + 1, "build_path": args.build,
                           "reuse_signatures": args.reuse_signatures}
    if args.build == "bulk":
        from assistant.scale_bulk import bulk_replicas

        out.update(bulk_replicas(pipeline, args.corpus, root, plan, args.bulk_workers, not args.reuse_signatures))
        rest_s = out["bulk_records_s"] + out["bulk_sync_s"]
    else:
        started = time.perf_counter()
        for replica, ids in plan:
            write_jsonl(root / f"r{replica:04d}.jsonl", replicas(corpus, replica, set(ids)))
        out["write_files_s"] = round(time.perf_counter() - started, 1)
        rest = pipeline.index([root]) if plan else None
        if rest and rest.failed:
            raise CommandError(f"indexing the archive failed: {rest.failed[:3]}")
        rest_s = rest.seconds if rest else 0.0
    out["build_s"] = round((first_s or 0.0) + rest_s, 1)  # without replica 0 when resumed
    return out


def time_queries(pipeline: Any, questions: list[str]) -> dict[str, float]:
    retriever = pipeline.retriever()
    k = pipeline.settings.top_k
    for q in questions[:3]:  # warm-up: first-touch of the stores' pages
        retriever.retrieve(q, k)
    pipeline.embedder.forget_queries()
    ms, cpu_ms, stores_ms = [], [], []
    load = os.getloadavg()[0]
    for q in questions:
        started, cpu = time.perf_counter(), time.process_time()
        retriever.retrieve(q, k)
        ms.append((time.perf_counter() - started) * 1000)
        cpu_ms.append((time.process_time() - cpu) * 1000)
        started = time.perf_counter()  # again, its vector now cached: the stores' share
        retriever.retrieve(q, k)
        stores_ms.append((time.perf_counter() - started) * 1000)
    # CPU time of this process per query: what the wall time would be on an idle machine (the
    # machine is shared; the load average says by how much the wall time is inflated).
    return {"query_ms_p50": pctl(ms, 50), "query_ms_p95": pctl(ms, 95), "queries": len(ms),
            "query_stores_ms_p50": pctl(stores_ms, 50), "query_stores_ms_p95": pctl(stores_ms, 95),
            "query_cpu_ms_p50": pctl(cpu_ms, 50), "query_cpu_ms_p95": pctl(cpu_ms, 95),
            "query_load_before": round(load, 2), "query_load_after": round(os.getloadavg()[0], 2)}


def pctl(values: list[float], p: int) -> float:
    if len(values) < 2:
        return round(values[0], 1) if values else 0.0
    return round(statistics.quantiles(values, n=100, method="inclusive")[p - 1], 1)


def sync_one(pipeline: Any, root: Path) -> dict[str, float]:
    """Add one unseen dispatch to the archive's folder and sync: the time beyond its encoding."""
    shutil.copyfile(NEW_DISPATCH, root / "zz_new_dispatch.txt")
    before = pipeline.embedder.embed_seconds
    report = pipeline.index([root])
    if len(report.added) != 1:
        raise CommandError(f"the +1 sync added {report.added}, expected one dispatch")
    embed = pipeline.embedder.embed_seconds - before
    idle = pipeline.index([root])  # nothing new: what any sync of this folder costs (scan, load, finish)
    return {"sync_one_s": round(report.seconds - embed, 2), "sync_one_total_s": round(report.seconds, 2),
            "sync_one_embed_s": round(embed, 2), "sync_nothing_s": round(idle.seconds, 2)}


def sync_inbox(pipeline: Any, inbox: Path, profile_to: Path | None) -> dict[str, float]:
    """One unseen dispatch in a folder of its own: what a change costs a big index without re-reading
    the archive's files (the archive +1 above re-reads them all)."""
    import cProfile

    inbox.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(INBOX_DISPATCH, inbox / INBOX_DISPATCH.name)
    before = pipeline.embedder.embed_seconds
    profile = cProfile.Profile() if profile_to else None
    if profile:
        profile.enable()
    report = pipeline.index([inbox])
    if profile:
        profile.disable()
        procs.write_profile(profile, profile_to)
    if len(report.added) != 1:
        raise CommandError(f"the inbox +1 sync added {report.added}, expected one dispatch")
    embed = pipeline.embedder.embed_seconds - before
    return {"sync_inbox_s": round(report.seconds - embed, 2), "sync_inbox_total_s": round(report.seconds, 2)}


def run_mode(settings: Settings, args: argparse.Namespace, mode: str, questions: list[str]) -> dict[str, Any]:
    from assistant.pipeline import Pipeline
    from index.stores import release_clients

    work = args.work / f"{mode}-{args.chunks}"
    if not args.resume:
        shutil.rmtree(work, ignore_errors=True)
    chroma = procs.start_chroma(work / "chroma-server") if mode == "server" else None
    try:
        s = replace(settings, data_dir=work / "data", store_mode=mode, collection=f"scale{args.chunks}",
                    chroma_port=chroma[1] if chroma else settings.chroma_port)
        pipeline = Pipeline(s)
        known = known_vectors(args.vectors_from, pipeline.embedder.identity) if args.vectors_from else {}
        corpus = read_corpus(args.corpus)
        pipeline.embedder = ReplicaEmbedder(pipeline.embedder, known, corpus_titles(corpus))
        pipeline._indexer = None  # built again on first use, with the replica embedder
        result: dict[str, Any] = {"chunks": 0, "store_mode": mode, "chunks_wanted": args.chunks,
                                  "load_at_start": round(os.getloadavg()[0], 2)}
        cpu = time.process_time()
        result.update(build(pipeline, corpus, args, work / "archive"))
        # The machine is shared: CPU seconds of this process (all its threads) beside the wall time.
        result["build_cpu_s"] = round(time.process_time() - cpu, 1)
        result["documents"], result["chunks"] = pipeline.records.counts()
        result["encoded_chunks"] = pipeline.embedder.encoded
        result.update(time_queries(pipeline, questions))
        result.update(sync_one(pipeline, work / "archive"))
        profiles = args.profile_dir
        result.update(sync_inbox(pipeline, work / "inbox",
                                 profiles / f"{mode}-{args.chunks}-sync-inbox.txt" if profiles else None))
        pipeline.close()
        release_clients()
        flags = ["--data-dir", str(s.data_dir), "--store-mode", mode, "--collection", s.collection,
                 "--chroma-port", str(s.chroma_port)]
        result["cold_start_s"] = round(procs.time_ask(flags, questions[0], work / "ask.log"), 2)
        if profiles:
            procs.time_ask(flags, questions[0], work / "ask-profiled.log",
                           profile_to=profiles / f"{mode}-{args.chunks}-ask.txt")
        served = procs.measure_serve(flags, questions[:args.serve_questions], work / "serve.log")
        api_ms = served.pop("api_latencies_ms")
        result.update(served)
        result.update({"api_ms_p50": pctl(api_ms, 50), "api_ms_p95": pctl(api_ms, 95)})
        result["data_mb"] = round(sum(f.stat().st_size for f in work.rglob("*") if f.is_file()) / 2**20)
        return result
    finally:
        if chroma:
            procs.stop(chroma[0])
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

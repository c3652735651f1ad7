"""`dispatch-qa bench versions`: version clusters against the exact pairs of the definition.

The exact pairs (word 5-gram Jaccard >= 0.5) are found without comparing all 200 million pairs, and
without missing any: shingles ordered rarest first, two sets of Jaccard >= t share at least
ceil(t * |x|) shingles, so they share one among the first |x| - ceil(t * |x|) + 1 of each
(prefix filtering, Chaudhuri et al. 2006); every pair sharing a prefix shingle is then measured
exactly. Shingles are compared by their 64-bit hash (a collision inside one pair is a 2^-64 event).
The clusters come from index/version_links.py, the code the indexer runs, fed dispatch by dispatch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from assistant.errors import CommandError
from assistant.reporting import print_json, write_report

Pair = tuple[str, str]


def add_parser(bench_subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = bench_subparsers.add_parser("versions", parents=[common],
                                    help="version clusters: pair precision/recall against exact Jaccard, cost")
    p.add_argument("--corpus", type=Path, required=True, help="JSONL corpus (one article per line: id, text)")
    p.add_argument("--limit", type=int, help="first N articles only [default: all]")
    p.add_argument("--exact-cache", type=Path,
                   help="JSON file holding the exact pairs: read when made from this corpus, else written")
    p.add_argument("--index-ms", type=float, default=217.3,
                   help="indexing time per dispatch to compare the cost with [default: 217.3, the 20k e5 index]")
    p.add_argument("--index", type=int, default=0, metavar="N",
                   help="also index the first N articles with the real pipeline, with and without version "
                        "linking (into a temporary folder) [default: 0, skipped]")
    p.add_argument("--out", type=Path, help="write the JSON report here")
    p.set_defaults(handler=cmd_versions)


def load_corpus(path: Path, limit: int | None) -> dict[str, str]:
    if not path.is_file():
        raise CommandError(f"{path}: no such corpus file")
    texts: dict[str, str] = {}
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if limit is not None and len(texts) >= limit:
                break
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                texts[str(record["id"])] = record["text"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise CommandError(f"{path}: line {n}: expected a JSON object with 'id' and 'text' ({exc})") from None
    return texts


def shingle_hashes(text: str) -> np.ndarray:
    from index.versions import shingles

    return np.unique(np.fromiter((hash(s) for s in shingles(text)), dtype=np.int64))


def exact_pairs(texts: dict[str, str], threshold: float) -> dict[Pair, float]:
    """Every pair with Jaccard >= threshold, with its Jaccard (prefix filtering, then exact)."""
    ids = list(texts)
    sets = [shingle_hashes(texts[i]) for i in ids]
    tokens, freq = np.unique(np.concatenate(sets), return_counts=True)
    prefix_doc, prefix_tok = [], []
    for n, s in enumerate(sets):
        if not len(s):
            continue
        order = np.lexsort((s, freq[np.searchsorted(tokens, s)]))  # rarest first, then by hash
        keep = len(s) - math.ceil(threshold * len(s)) + 1
        prefix_tok.append(s[order[:keep]])
        prefix_doc.append(np.full(keep, n))
    tok, doc = np.concatenate(prefix_tok), np.concatenate(prefix_doc)
    by = np.argsort(tok, kind="stable")
    tok, doc = tok[by], doc[by]
    bounds = np.flatnonzero(np.diff(tok)) + 1
    candidates: set[tuple[int, int]] = set()
    for group in np.split(doc, bounds):
        if len(group) > 1:
            candidates.update(combinations(sorted(set(group.tolist())), 2))
    out: dict[Pair, float] = {}
    for a, b in candidates:
        sa, sb = sets[a], sets[b]
        if min(len(sa), len(sb)) < threshold * max(len(sa), len(sb)):
            continue  # sizes alone rule it out
        inter = len(np.intersect1d(sa, sb, assume_unique=True))
        j = inter / (len(sa) + len(sb) - inter)
        if j >= threshold:
            out[tuple(sorted((ids[a], ids[b])))] = round(j, 4)
    return out


def corpus_key(path: Path, limit: int | None) -> str:
    st = path.stat()
    return hashlib.sha256(f"{path.resolve()}|{st.st_size}|{int(st.st_mtime)}|{limit}".encode()).hexdigest()[:16]


def cached_exact_pairs(texts: dict[str, str], threshold: float, cache: Path | None,
                       key: str) -> tuple[dict[Pair, float], float | None]:
    """The exact pairs and the seconds they took (None when read from the cache)."""
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("corpus_key") == key and data.get("threshold") == threshold:
            return {(a, b): j for a, b, j in data["pairs"]}, None
    started = time.perf_counter()
    pairs = exact_pairs(texts, threshold)
    seconds = time.perf_counter() - started
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps({"corpus_key": key, "threshold": threshold, "seconds": round(seconds, 1),
                                     "pairs": [[a, b, j] for (a, b), j in sorted(pairs.items())]}), encoding="utf-8")
    return pairs, seconds


def run_clustering(texts: dict[str, str]) -> dict[str, Any]:
    """Feeds the dispatches one by one to the indexer's VersionLinker, as an indexing run would."""
    from index.minhash import signature, to_bytes
    from index.version_links import VersionLinker
    from index.versions import clusters, shingles

    signature(shingles("warm up the permutations"))
    linker = VersionLinker([], lambda ids: {i: texts[i] for i in ids})
    links: list[Pair] = []
    stored: list[tuple[str, bytes]] = []
    started = time.perf_counter()
    for doc_id, text in texts.items():
        sig, found = linker.link(doc_id, text)
        links += [tuple(sorted((doc_id, other))) for other, _ in found]
        stored.append((doc_id, to_bytes(sig)))
        linker.committed()
    linked = time.perf_counter()
    cluster_of = clusters(links)
    done = time.perf_counter()
    VersionLinker(stored, lambda ids: {})  # what each indexing run that writes pays once
    rebuilt = time.perf_counter()
    return {"links": set(links), "cluster_of": cluster_of, "link_seconds": linked - started,
            "union_find_seconds": done - linked, "candidates_checked": linker.candidates_checked,
            "lsh_rebuild_seconds": rebuilt - done}


def signature_cost(texts: dict[str, str], n: int = 2000) -> float:
    """Mean ms of shingling + signature alone, on the first n texts."""
    from index.minhash import signature
    from index.versions import shingles

    sample = list(texts.values())[:n]
    started = time.perf_counter()
    for text in sample:
        signature(shingles(text))
    return (time.perf_counter() - started) * 1000 / max(len(sample), 1)


def indexing_cost(settings: Any, corpus: Path, n: int) -> dict[str, Any]:
    """The real indexing of n articles, three runs in fresh folders: with linking, without (the linker
    replaced by one that links nothing), with again; plus the time the runs with it spent in it."""
    import tempfile
    from unittest import mock

    from assistant.pipeline import open_pipeline
    from index import version_links

    with corpus.open(encoding="utf-8") as f:
        lines = [line for _, line in zip(range(n), f)]
    real_link = version_links.VersionLinker.link
    spent = [0.0]

    def timed_link(self: Any, doc_id: str, body: str) -> Any:
        started = time.perf_counter()
        try:
            return real_link(self, doc_id, body)
        finally:
            spent[0] += time.perf_counter() - started

    def no_link(self: Any, doc_id: str, body: str) -> Any:
        return np.zeros(128, dtype=np.uint32), []

    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-versions-") as tmp:
        subset = Path(tmp) / "corpus" / "articles.jsonl"
        subset.parent.mkdir()
        subset.write_text("".join(lines), encoding="utf-8")
        for n_run, linking in enumerate((True, False, True)):
            pipeline = open_pipeline(settings.replace(data_dir=Path(tmp) / f"index{n_run}"))
            pipeline.embedder.embed(["échauffement"])  # the model load is not indexing
            spent[0] = 0.0
            with mock.patch.object(version_links.VersionLinker, "link", timed_link if linking else no_link):
                report = pipeline.index([subset])
            pipeline.close()
            runs.append({"linking": linking, "seconds": round(report.seconds, 2), "documents": report.documents_total,
                         "ms_per_dispatch": round(report.seconds * 1000 / report.documents_total, 1),
                         "linking_seconds": round(spent[0], 3)})
    with_runs = [r for r in runs if r["linking"]]
    mean_with = sum(r["seconds"] for r in with_runs) / len(with_runs)
    without = runs[1]["seconds"]
    return {"model": settings.embedding_model, "runs": runs,
            "linking_share_measured_inside": round(sum(r["linking_seconds"] for r in with_runs)
                                                    / sum(r["seconds"] for r in with_runs), 4),
            "with_vs_without": round(mean_with / without - 1, 4)}


def pair_scores(found: set[Pair], exact: set[Pair]) -> dict[str, float | int]:
    hit = len(found & exact)
    return {"pairs": len(found), "exact_pairs": len(exact), "true_pairs": hit,
            "precision": round(hit / len(found), 4) if found else 1.0,
            "recall": round(hit / len(exact), 4) if exact else 1.0}


def _recall_below(found: set[Pair], exact: dict[Pair, float], limit: float) -> dict[str, float | int]:
    wanted = {p for p, j in exact.items() if j < limit}
    return {"exact_pairs": len(wanted), "recall": round(len(found & wanted) / len(wanted), 4) if wanted else 1.0}


def cluster_pairs(cluster_of: dict[str, str]) -> set[Pair]:
    from index.versions import members_by_cluster

    return {p for members in members_by_cluster(cluster_of).values() for p in combinations(members, 2)}


def cmd_versions(args: argparse.Namespace, settings: Any) -> int:
    from index import minhash
    from index.versions import JACCARD_MIN, members_by_cluster

    texts = load_corpus(args.corpus, args.limit)
    exact, exact_seconds = cached_exact_pairs(texts, JACCARD_MIN, args.exact_cache,
                                              corpus_key(args.corpus, args.limit))
    run = run_clustering(texts)
    sizes = [len(m) for m in members_by_cluster(run["cluster_of"]).values()]
    per_doc_ms = run["link_seconds"] * 1000 / len(texts)
    report = {
        "corpus": str(args.corpus), "documents": len(texts), "lsh": minhash.identity(),
        "exact_pairs_seconds": round(exact_seconds, 1) if exact_seconds is not None else "cached",
        "clusters": pair_scores(cluster_pairs(run["cluster_of"]), set(exact)),
        "links": pair_scores(run["links"], set(exact)),
        # Most exact pairs are the same text under two ids; the re-issues that differ are the hard part.
        "recall_not_identical": _recall_below(cluster_pairs(run["cluster_of"]), exact, 1.0),
        "recall_jaccard_below_0_6": _recall_below(cluster_pairs(run["cluster_of"]), exact, 0.6),
        "clustered_documents": len(run["cluster_of"]), "cluster_count": len(sizes),
        "largest_cluster": max(sizes, default=0),
        "cluster_sizes": {str(k): sizes.count(k) for k in sorted(set(sizes))},
        "candidates_checked": run["candidates_checked"],
        "clustering_seconds": round(run["link_seconds"] + run["union_find_seconds"], 2),
        "union_find_seconds": round(run["union_find_seconds"], 4),
        "lsh_rebuild_seconds": round(run["lsh_rebuild_seconds"], 2),
        "per_dispatch_ms": round(per_doc_ms, 3),
        "signature_ms": round(signature_cost(texts), 3),
        "index_ms_per_dispatch": args.index_ms,
        "share_of_indexing": round(per_doc_ms / args.index_ms, 4),
    }
    if args.index:
        report["indexing"] = indexing_cost(settings, args.corpus, args.index)
    write_report(report, args.out)
    if args.json:
        print_json(report)
    else:
        _print(report)
    return 0


def _print(report: dict[str, Any]) -> None:
    c, lk = report["clusters"], report["links"]
    print(f"{report['documents']} dispatches, {c['exact_pairs']} exact pairs (Jaccard >= 0.5)")
    print(f"cluster pairs: precision {c['precision']:.4f}, recall {c['recall']:.4f} ({c['pairs']} pairs)")
    print(f"verified links: precision {lk['precision']:.4f}, recall {lk['recall']:.4f}")
    print(f"clustering {report['clustering_seconds']} s, {report['per_dispatch_ms']} ms per dispatch = "
          f"{100 * report['share_of_indexing']:.2f}% of {report['index_ms_per_dispatch']} ms indexing")
    if "indexing" in report:
        ix = report["indexing"]
        for r in ix["runs"]:
            print(f"indexing {r['documents']} dispatches {'with' if r['linking'] else 'without'} linking: "
                  f"{r['seconds']} s ({r['ms_per_dispatch']} ms each), {r['linking_seconds']} s linking")
        print(f"linking share measured inside the runs: {100 * ix['linking_share_measured_inside']:.2f}%; "
              f"with vs without: {100 * ix['with_vs_without']:+.1f}%")

"""`dispatch-qa bench html`: how much of an article's body the HTML loader keeps, and how much else.

Scored on the article-extraction benchmark (scrapinghub/article-extraction-benchmark: 181 news pages as
``html/<id>.html.gz`` and ``ground-truth.json`` holding each page's ``articleBody``) exactly as that
benchmark's own ``evaluate.py`` scores, so figures compare with the ones it publishes: the texts are cut
into ``\\w+`` words, compared as bags of 4-word shingles; each page's true/false positives and false
negatives are divided by their sum (a long page weighs no more than a short one); precision and recall
are averaged over the pages where they are defined, and F1 is taken from those two averages.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "page_counts", "run", "scores"]

SHINGLE_WORDS = 4
_WORD_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)  # evaluate.py's flags

PageCounts = tuple[float, float, float]  # true positives, false positives, false negatives


def _shingles(text: str) -> Counter[tuple[str, ...]]:
    words = _WORD_RE.findall(text or "")
    # evaluate.py keeps one (shorter) shingle for a text of fewer than 4 words, none for no word.
    grams = (tuple(words[i:i + SHINGLE_WORDS]) for i in range(max(1, len(words) - SHINGLE_WORDS + 1)))
    return Counter(g for g in grams if g)


def page_counts(expected: str, extracted: str) -> PageCounts:
    """One page's (tp, fp, fn) over shingles, divided by their sum (all zero when both are empty)."""
    true, pred = _shingles(expected), _shingles(extracted)
    tp = fp = fn = 0.0
    for key in true.keys() | pred.keys():
        t, p = true.get(key, 0), pred.get(key, 0)
        tp += min(t, p)
        fp += max(0, p - t)
        fn += max(0, t - p)
    total = tp + fp + fn
    return (tp / total, fp / total, fn / total) if total > 0 else (tp, fp, fn)


def _precision(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fp == 0 else tp / (tp + fp)


def _recall(tp: float, fp: float, fn: float) -> float:
    if fp == fn == 0:
        return 1.0
    return 0.0 if tp == fn == 0 else tp / (tp + fn)


def scores(pages: list[PageCounts]) -> dict[str, float]:
    """Macro precision and recall over pages (as evaluate.py: each over the pages where it is defined)
    and the F1 of those two averages."""
    precision = statistics.mean([_precision(*c) for c in pages if c[0] + c[1] > 0])
    recall = statistics.mean([_recall(*c) for c in pages if c[0] + c[2] > 0])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def _benchmark_folder(value: str) -> Path:
    """argparse type: a folder holding ground-truth.json and html/ (a usage error otherwise)."""
    folder = Path(value)
    if not (folder / "ground-truth.json").is_file() or not (folder / "html").is_dir():
        raise argparse.ArgumentTypeError(f"{folder} is not the article-extraction benchmark "
                                         "(expected ground-truth.json and an html/ folder)")
    return folder


def _extract(page: Path, html: bytes, max_bytes: int) -> tuple[str, float]:
    """The loader's text for one page, as indexing would load it, and the seconds it took."""
    from index.documents import load_file

    page.write_bytes(html)
    start = time.perf_counter()
    result = load_file(page, page.parent, max_bytes)
    seconds = time.perf_counter() - start
    return "\n\n".join(d.text for d in result.dispatches), seconds


def run(corpus: Path, max_bytes: int) -> dict[str, Any]:
    """Load every benchmark page with the project's HTML loader and score the text it keeps."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    counts: list[PageCounts] = []
    total_seconds = 0.0
    with tempfile.TemporaryDirectory(prefix="dispatch-qa-bench-html-") as work:
        for page_id, entry in sorted(truth.items()):
            html = gzip.decompress((corpus / "html" / f"{page_id}.html.gz").read_bytes())
            text, seconds = _extract(Path(work) / f"{page_id}.html", html, max_bytes)
            total_seconds += seconds
            counts.append(page_counts(entry.get("articleBody", ""), text))
    return {"pages": len(counts), **scores(counts), "ms_per_page": 1000 * total_seconds / len(counts)}


def add_parser(bench_sub: Any, common: argparse.ArgumentParser) -> None:
    """`bench html`, added to the `bench` subcommands."""
    p = bench_sub.add_parser("html", parents=[common],
                             help="word precision/recall/F1 of the HTML loader's article text, and time per page")
    p.add_argument("--corpus", type=_benchmark_folder, required=True,
                   help="the article-extraction benchmark folder (ground-truth.json, html/*.html.gz), "
                        "e.g. ../shared/data/article_extraction_benchmark")
    p.add_argument("--out", type=Path, help="write the JSON report here")
    p.set_defaults(handler=cmd_html)


def cmd_html(args: argparse.Namespace, settings: Any) -> int:
    from assistant.reporting import print_json, write_report

    report = run(args.corpus, settings.max_file_bytes)
    write_report(report, args.out)
    if args.json:
        print_json(report)
    else:
        print(f"{report['pages']} pages: F1 {report['f1']:.3f} (precision {report['precision']:.3f}, "
              f"recall {report['recall']:.3f}), {report['ms_per_page']:.1f} ms per page")
    return 0

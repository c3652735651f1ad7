"""`dispatch-qa bench speakers`: precision and coverage of quote speakers on a labelled set.

Each line of the set (tests/data/speakers.jsonl) holds a sentence, the one or two before it
(`context`), and the speaker a reader names (`speaker`, null when the dispatch speaks in its own
voice; "(unnamed)" when the sentence reports someone the excerpt does not name; `also`: other
names of the same speaker). The extractor sees `context + sentence` and names the speaker of the
sentence. Precision: share of non-null answers that name the gold speaker. Coverage: share of the
sentences a reader attributes (gold non-null) that get the right speaker; `attributed` is the share
that get any speaker at all.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from assistant.attribution import same_speaker
from assistant.errors import DispatchQAError
from assistant.labels import labelled_lines

DEFAULT_LABELS = Path(__file__).resolve().parents[1] / "tests" / "data" / "speakers.jsonl"
class LabelsError(DispatchQAError, ValueError):
    """The labelled set cannot be read; the message names the file, the line and the reason."""


def read_labels(path: Path) -> list[dict[str, Any]]:
    items = [item for _, item in labelled_lines(path, ("sentence", "context", "speaker"), LabelsError)]
    if not items:
        raise LabelsError(f"{path}: no labelled sentences")
    return items


def score(items: list[dict[str, Any]]) -> dict[str, Any]:
    from assistant.attribution import quote_speaker

    answered = right = gold_speech = covered = attributed = 0
    errors = []
    started = time.perf_counter()
    for item in items:
        text = item["context"] + item["sentence"]
        found = quote_speaker(text, len(item["context"]), len(text))
        gold, also = item["speaker"], item.get("also", [])
        ok = found is not None and gold is not None and same_speaker(found, gold, also)
        answered += found is not None
        right += ok
        if gold is not None:
            gold_speech += 1
            covered += ok
            attributed += found is not None
        if (found is not None and not ok) or (gold is not None and found is None):
            errors.append({"id": item.get("id"), "found": found, "gold": gold})
    seconds = time.perf_counter() - started
    return {"sentences": len(items), "gold_speech": gold_speech, "answered": answered,
            "precision": right / answered if answered else 0.0,
            "coverage": covered / gold_speech if gold_speech else 0.0,
            "attributed": attributed / gold_speech if gold_speech else 0.0,
            "ms_per_sentence": 1000 * seconds / len(items), "errors": errors}


def add_parser(bench_sub: Any, common: argparse.ArgumentParser) -> None:
    """`bench speakers`, added to the `bench` subcommands."""
    p = bench_sub.add_parser("speakers", parents=[common],
                             help="precision and coverage of quote speakers on a labelled set")
    p.add_argument("--labels", type=Path, default=DEFAULT_LABELS,
                   help="labelled sentences (JSONL) [default: tests/data/speakers.jsonl]")
    p.add_argument("--out", type=Path, help="write the JSON report here")
    p.set_defaults(handler=cmd_speakers)


def cmd_speakers(args: argparse.Namespace, settings: Any) -> int:
    from assistant.reporting import print_json, write_report

    if not args.labels.is_file():
        raise LabelsError(f"{args.labels}: no such file")
    report = score(read_labels(args.labels))
    write_report(report, args.out)
    if args.json:
        print_json(report)
    else:
        print(f"{report['sentences']} sentences, {report['gold_speech']} reporting someone: precision "
              f"{report['precision']:.3f} ({report['answered']} named), coverage {report['coverage']:.3f} "
              f"(any speaker: {report['attributed']:.3f}), {report['ms_per_sentence']:.2f} ms per sentence")
    return 0

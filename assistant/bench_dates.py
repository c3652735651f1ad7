"""`dispatch-qa bench dates`: how often a resolved date mention is right, against a labelled set.

Each labelled line is one mention: its sentence, where the mention's word is in it (`offset`,
`mention`), the article's date, and the gold value ("YYYY-MM-DD", "YYYY-MM" or null when no date can
be read from it: a day-relative word in a dispatch dated to the month, a generic "aujourd'hui", a
newspaper's name). The resolver runs on the sentence alone, with the article's date; the prediction
for a gold mention is the value of the found mention that covers its word (null when none does).

Reported: accuracy (share of resolved predictions equal to the gold value), coverage (share of gold
dates the resolver gets right), and resolutions where the article date is too coarse for the gold
to be a day (must be 0).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from assistant.date_mentions import find_date_mentions
from assistant.labels import labelled_lines

__all__ = ["DEFAULT_LABELS", "add_parser", "load_labels", "score"]

DEFAULT_LABELS = Path(__file__).resolve().parent.parent / "tests" / "data" / "date_mentions.jsonl"
_FIELDS = ("sentence", "mention", "offset", "article_date", "value")


def load_labels(path: Path) -> list[dict[str, Any]]:
    """The labelled mentions; a bad line raises ValueError naming the file, line and field."""
    items = []
    for n, item in labelled_lines(path, _FIELDS):
        at = item["offset"]
        if item["sentence"][at:at + len(item["mention"])] != item["mention"]:
            raise ValueError(f"{path}:{n}: 'mention' is not at 'offset' in 'sentence'")
        items.append(item)
    return items


def predict(item: dict[str, Any]) -> str | None:
    at = item["offset"]
    for m in find_date_mentions(item["sentence"], item["article_date"]):
        if m.start <= at < m.end:
            return m.value
    return None


def _coarse(date: str | None) -> bool:
    return date is None or len(date) < 10


def score(items: list[dict[str, Any]]) -> dict[str, Any]:
    rows = [(item, predict(item)) for item in items]
    resolved = [(i, p) for i, p in rows if p is not None]
    correct = [(i, p) for i, p in resolved if p == i["value"]]
    gold_dates = [i for i, _ in rows if i["value"] is not None]
    coarse_days = [(i, p) for i, p in resolved if _coarse(i["article_date"]) and len(p) == 10
                   and p != i["value"]]
    wrong = [{"id": i.get("id"), "mention": i["mention"], "article_date": i["article_date"],
              "gold": i["value"], "predicted": p} for i, p in resolved if p != i["value"]]
    missed = [{"id": i.get("id"), "mention": i["mention"], "gold": i["value"]} for i, p in rows
              if p is None and i["value"] is not None]
    return {
        "mentions": len(items), "gold_dates": len(gold_dates), "resolved": len(resolved),
        "correct": len(correct),
        "accuracy": round(len(correct) / len(resolved), 4) if resolved else None,
        "coverage": round(len(correct) / len(gold_dates), 4) if gold_dates else None,
        "coarse_mentions": sum(1 for i, _ in rows if _coarse(i["article_date"])),
        "resolved_despite_coarse_date": len(coarse_days),
        "wrong": wrong, "missed": missed,
    }


def add_parser(bench_sub: Any, common: argparse.ArgumentParser) -> None:
    """`bench dates`, added to the `bench` subcommands."""
    p = bench_sub.add_parser("dates", parents=[common],
                             help="accuracy of date mentions resolved against the dispatch date (labelled set)")
    p.add_argument("--labels", type=Path, default=DEFAULT_LABELS,
                   help="labelled mentions, JSONL [default: tests/data/date_mentions.jsonl]")
    p.add_argument("--out", type=Path, help="write the JSON report here")
    p.set_defaults(handler=cmd_dates)


def cmd_dates(args: argparse.Namespace, settings: Any) -> int:
    from assistant.errors import CommandError
    from assistant.reporting import print_json, write_report

    try:
        report = score(load_labels(args.labels))
    except (OSError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    write_report(report, args.out)
    if args.json:
        print_json(report)
        return 0
    print(f"{report['mentions']} mentions ({report['gold_dates']} with a date): {report['resolved']} resolved, "
          f"accuracy {report['accuracy']}, coverage {report['coverage']}; "
          f"{report['resolved_despite_coarse_date']} resolved to a day despite a coarse dispatch date "
          f"(of {report['coarse_mentions']} mentions with one)")
    for w in report["wrong"]:
        print(f"  wrong: {w['id']} {w['mention']!r} ({w['article_date']}): {w['predicted']} instead of {w['gold']}")
    for m in report["missed"]:
        print(f"  missed: {m['id']} {m['mention']!r}: {m['gold']}")
    return 0

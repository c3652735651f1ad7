"""`dispatch-qa timeline "QUERY"`: the dispatches about a subject in the order of what they report."""

from __future__ import annotations

import argparse
from typing import Any

from assistant.errors import CommandError
from assistant.reporting import print_json

__all__ = ["register", "render_timeline"]


def register(subparsers: Any, common: argparse.ArgumentParser) -> None:
    p = subparsers.add_parser("timeline", parents=[common],
                              help="the dispatches matching a query, ordered by the date of what they report")
    p.add_argument("query")
    p.add_argument("--date-from", help="only dispatches dated on/after (YYYY[-MM[-DD]])")
    p.add_argument("--date-to", help="only dispatches dated on/before (YYYY[-MM[-DD]])")
    p.add_argument("--source", action="append", default=[], help="only this source/agency (repeatable)")
    p.add_argument("--limit", type=int, default=20, help="at most this many dispatches [default: 20]")
    p.set_defaults(handler=cmd_timeline)


def cmd_timeline(args: argparse.Namespace, settings: Any) -> int:
    from assistant.language import question_language
    from assistant.pipeline import QueryFilters, open_pipeline
    from assistant.timeline import timeline_json

    if args.limit < 1:
        raise CommandError(f"--limit must be at least 1, got {args.limit}")
    pipeline = open_pipeline(settings)
    if pipeline.is_empty():
        raise CommandError(f"the index in {settings.data_dir} is empty: run `dispatch-qa index seeds/` first")
    filters = QueryFilters(args.date_from, args.date_to, tuple(args.source))
    try:
        entries = pipeline.timeline(args.query, filters, limit=args.limit)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    data = timeline_json(args.query, entries, {"date_from": args.date_from, "date_to": args.date_to,
                                               "sources": list(args.source)}, question_language(args.query))
    if args.json:
        print_json(data)
    else:
        print(render_timeline(data))
    return 0


def render_timeline(data: dict[str, Any]) -> str:
    """The timeline as terminal text: date, where it comes from, the dispatch, the dated quote."""
    from assistant.date_mentions import dated_quote
    from assistant.highlight import quote_parts

    en = data.get("language") == "en"
    if not data["entries"]:
        return "No dispatch matches this query." if en else "Aucune dépêche ne correspond à cette recherche."
    lines = []
    for e in data["entries"]:
        c = e["citation"]
        when = e["date"] or ("undated" if en else "sans date")
        origin = {"event": "event" if en else "événement", "dispatch": "dispatch" if en else "dépêche"}.get(
            e["date_from"] or "", "")
        meta = " — ".join(x for x in (e["title"] or e["doc_id"], e["source"], c.get("speaker")) if x)
        dated, _ = dated_quote(c["quote"], c["start"], None, c.get("dates"), data.get("language", "fr"))
        quote = "".join(quote_parts(dated, c["start"], None))
        lines += [f"{when:<10}  {f'({origin})' if origin else ''}  [{c['marker']}] {meta}",
                  f"    « {quote} »", f"    {c['source_path']} [{c['start']}:{c['end']}]"]
    return "\n".join(lines)



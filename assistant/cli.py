"""`dispatch-qa`: index dispatches, ask questions, inspect the index, serve the web chat."""

from __future__ import annotations

import argparse
import sys
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, Literal

from assistant import bench, bench_dates, evaluate, timeline_cli
from assistant.errors import CommandError, DispatchQAError
from assistant.progress import ProgressBar
from assistant.reporting import print_json
from assistant.settings import Settings, load_settings

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_PARTIAL = 0, 1, 2, 3


class UsageError(Exception):
    """The command line itself is wrong (argparse's complaint); exit code 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is raised (so `--json` can still print its one object)."""

    def error(self, message: str) -> typing.NoReturn:
        raise UsageError(f"{self.prog}: {message}")

    def add_subparsers(self, **kwargs: Any) -> Any:
        # A parser holding subcommands (`bench ingest|query`) sees the subcommand's options too; with
        # abbreviations on, `--n` (bench query's own) was "ambiguous" between two `--no-*` settings.
        self.allow_abbrev = False
        return super().add_subparsers(**kwargs)


# -- argument parsing --------------------------------------------------------------------------

def _settings_parent() -> argparse.ArgumentParser:
    """Every setting as --flag-name, on every subcommand (defaults stay in Settings)."""
    parent = argparse.ArgumentParser(add_help=False)
    group = parent.add_argument_group("settings (also DISPATCH_QA_* env vars and dispatch-qa.toml)")
    hints = typing.get_type_hints(Settings)
    for f in fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        kind = hints[f.name]
        help_text = f.metadata.get("doc", "") + f" [default: {f.default}]"
        if typing.get_origin(kind) is Literal:
            group.add_argument(flag, dest=f"setting_{f.name}", choices=typing.get_args(kind),
                               default=argparse.SUPPRESS, help=help_text)
        elif kind is bool:
            group.add_argument(flag, dest=f"setting_{f.name}", action=argparse.BooleanOptionalAction,
                               default=argparse.SUPPRESS, help=help_text)
        else:
            group.add_argument(flag, dest=f"setting_{f.name}", default=argparse.SUPPRESS, metavar="VALUE",
                               help=help_text)
    parent.add_argument("--json", action="store_true", help="print exactly one JSON object on stdout")
    return parent


def build_parser() -> argparse.ArgumentParser:
    common = _settings_parent()
    parser = _Parser(
        prog="dispatch-qa", description="Ask questions of news dispatches; every answer cites its passages.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _register_index_commands(subparsers, common)
    _register_document_commands(subparsers, common)
    p = subparsers.add_parser("serve", parents=[common], help="start the web chat")
    p.add_argument("--no-seed", action="store_true", help="do not index seeds/ when the index is empty")
    p.set_defaults(handler=cmd_serve)
    timeline_cli.register(subparsers, common)
    evaluate.register(subparsers, common)
    bench_dates.add_parser(bench.register(subparsers, common), common)
    return parser


def _register_index_commands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """`index` and `ask`: what a user does first and most."""
    p = subparsers.add_parser("index", parents=[common], help="index (sync) folders or files of dispatches")
    p.add_argument("paths", nargs="*", type=Path, help="folders and/or files; none re-syncs every indexed root")
    p.add_argument("--rebuild", action="store_true",
                   help="rebuild the vector store from the records (no re-embedding)")
    p.add_argument("--reset", action="store_true",
                   help="forget every vector and re-embed from the roots (after changing the model)")
    p.add_argument("--workers", dest="setting_index_workers", type=_worker_count, default=argparse.SUPPRESS,
                   metavar="N", help="encode with N processes (setting index_workers), each with its share "
                   "of the cores, this one committing; started only when there is enough to embed. Ignored "
                   "on a GPU (embedding_device), where one process encodes [default: 1]")
    p.set_defaults(handler=cmd_index)

    p = subparsers.add_parser("ask", parents=[common], help="ask a question")
    p.add_argument("question")
    p.add_argument("--date-from", help="only dispatches dated on/after (YYYY[-MM[-DD]])")
    p.add_argument("--date-to", help="only dispatches dated on/before (YYYY[-MM[-DD]])")
    p.add_argument("--source", action="append", default=[], help="only this source/agency (repeatable)")
    p.set_defaults(handler=cmd_ask)


def _worker_count(raw: str) -> int:
    try:
        count = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expects a whole number of processes, got '{raw}'") from None
    if count < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (1 encodes in this process), got {count}")
    return count


def _register_document_commands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """The commands that inspect or trim what is indexed."""
    subparsers.add_parser("status", parents=[common], help="what is indexed").set_defaults(handler=cmd_status)
    subparsers.add_parser("list", parents=[common], help="list indexed documents").set_defaults(handler=cmd_list)
    p = subparsers.add_parser("show", parents=[common], help="one document's metadata and text")
    p.add_argument("doc_id")
    p.set_defaults(handler=cmd_show)
    p = subparsers.add_parser("versions", parents=[common], help="the versions of one dispatch (near-duplicates)")
    p.add_argument("doc_id")
    p.set_defaults(handler=cmd_versions)
    p = subparsers.add_parser("remove", parents=[common], help="take one document out of the index")
    p.add_argument("doc_id")
    p.set_defaults(handler=cmd_remove)
    p = subparsers.add_parser("roots", parents=[common], help="list the indexed roots, or forget one")
    p.add_argument("--forget", metavar="PATH", help="stop syncing this root and remove its documents from the index")
    p.set_defaults(handler=cmd_roots)


def settings_from_args(args: argparse.Namespace) -> Settings:
    cli = {k.removeprefix("setting_"): v for k, v in vars(args).items() if k.startswith("setting_")}
    return load_settings(cli=cli)


# -- commands ----------------------------------------------------------------------------------

def cmd_index(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import open_pipeline
    from index.walk import root_problem

    for path in args.paths:  # before anything is opened or recorded
        if problem := root_problem(path):
            raise CommandError(f"{path}: {problem}")
    pipeline = open_pipeline(settings)
    if not args.paths and not pipeline.records.roots():
        raise CommandError("nothing to index: give folders or files, e.g. `dispatch-qa index seeds/`")
    bar = ProgressBar("indexing")
    report = pipeline.index(args.paths or None, rebuild=args.rebuild, reset=args.reset, progress=bar.update)
    bar.close()
    data = report.to_dict()
    if args.json:
        print_json({"summary": _summary(data), **data})
    else:
        if report.repaired:
            print(f"repaired: {report.repaired}", file=sys.stderr)
        for failure in report.failed:
            print(f"failed: {failure['file']}: {failure['reason']}", file=sys.stderr)
        s = _summary(data)
        print(f"{s['added']} added, {s['updated']} updated, {s['unchanged']} unchanged, "
              f"{s['removed']} removed, {s['failed']} failed documents; {report.chunks_written} chunks written "
              f"({report.chunks_embedded} embedded); index holds {report.documents_total} documents, "
              f"{report.chunks_total} chunks; {report.seconds:.1f} s")
    return EXIT_PARTIAL if report.failed else EXIT_OK


def _summary(data: dict[str, Any]) -> dict[str, int]:
    return {"added": len(data["added"]), "updated": len(data["updated"]), "unchanged": data["unchanged"],
            "removed": len(data["removed"]), "failed": len(data["failed"])}


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import QueryFilters, open_pipeline

    pipeline = open_pipeline(settings)
    if pipeline.records.counts()[0] == 0:
        raise CommandError(f"the index in {settings.data_dir} is empty: run `dispatch-qa index seeds/` first")
    filters = QueryFilters(args.date_from, args.date_to, tuple(args.source))
    if settings.llm != "none":
        pipeline.generator  # noqa: B018 - a missing package or model file stops here, before any work
    try:
        if args.json:  # one object, after verification: never streamed
            answer = pipeline.ask(args.question, filters=filters)
        else:
            answer = _stream_draft(pipeline.ask_stream(args.question, filters=filters))
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print_json(answer.to_dict())
        return EXIT_OK
    print(render_answer(answer, bold=sys.stdout.isatty()))
    return EXIT_OK


def _stream_draft(events: Any) -> Any:
    """Show a generative answer on stderr as it is written; erase that draft on a terminal once verified."""
    import shutil

    err = sys.stderr
    tty = err.isatty()
    draft = ""
    answer = None
    for event in events:
        if isinstance(event, str):
            if not draft and tty:
                err.write("\x1b[2m")  # dim: a draft, not yet the answer
            draft += event
            err.write(event)
            err.flush()
        else:
            answer = event
    if draft:
        if tty:
            cols = max(shutil.get_terminal_size().columns, 1)
            rows = sum(max(1, -(-len(line) // cols)) for line in draft.split("\n"))
            err.write("\x1b[0m\r" + (f"\x1b[{rows - 1}A" if rows > 1 else "") + "\x1b[J")
        else:
            err.write("\n\n")
        err.flush()
    return answer


def render_answer(answer: Any, bold: bool = False) -> str:
    """The answer, then its sources; `bold` (a terminal) puts the words that answer in bold."""
    en = answer.language == "en"
    lines = []
    if getattr(answer, "fallback", False):
        lines += [("Note: extractive answer — " if en else "Remarque : réponse extractive — ")
                  + (answer.fallback_reason or ""), ""]
    if getattr(answer, "mode", "extractive") == "generative" and answer.sentences:
        flag = " (unsupported)" if en else " (non vérifié)"
        lines += [" ".join(s.text + "".join(f" [{m}]" for m in s.markers) + ("" if s.supported else flag)
                           for s in answer.sentences), ""]
    else:
        lines += [answer.answer, ""]
    if answer.citations:
        lines.append("Sources:")
        for c in answer.citations:
            lines += _source_lines(f"[{c.marker}]", c, bold, answer.language)
    if answer.related:
        lines.append("Related passages (not citations):" if answer.language == "en"
                     else "Passages liés (pas des citations) :")
        for c in answer.related:
            lines += _source_lines("-", c, language=answer.language)
    return "\n".join(lines).rstrip()


def _source_lines(head: str, c: Any, bold: bool = False, language: str = "fr") -> list[str]:
    from assistant.date_mentions import dated_quote
    from assistant.highlight import quote_parts

    meta = " — ".join(x for x in (c.title or c.doc_id, c.date or "undated", c.source or "agency not stated") if x)
    if getattr(c, "speaker", None):
        meta += (" — according to " if language == "en" else " — selon ") + c.speaker
    dated, highlight = dated_quote(c.quote, c.start, getattr(c, "highlight", None), getattr(c, "dates", None),
                                   language)
    before, mid, after = quote_parts(dated, c.start, highlight)
    quote = before + (f"\033[1m{mid}\033[0m" if bold and mid else mid) + after
    return [f"{head} {meta}", f"    {c.source_path} [{c.start}:{c.end}]", f"    « {quote} »"]


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import open_pipeline

    status = open_pipeline(settings).status()
    if args.json:
        print_json(status)
    else:
        for key, value in status.items():
            print(f"{key.replace('_', ' ')}: {value if value is not None else '-'}")
    return EXIT_OK


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import open_pipeline

    docs = open_pipeline(settings).documents()
    if args.json:
        print_json({"documents": docs})
    else:
        for d in docs:
            print(f"{d['doc_id']}\t{d['date'] or '-'}\t{d['source'] or '-'}\t{d['chunks']} chunks\t{d['title'] or ''}")
        print(f"{len(docs)} documents", file=sys.stderr)
    return EXIT_OK


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import open_pipeline

    doc = open_pipeline(settings).document(args.doc_id)
    if doc is None:
        raise CommandError(f"no document with id '{args.doc_id}' (see `dispatch-qa list`)")
    if args.json:
        print_json(doc)
    else:
        for key in ("doc_id", "title", "date", "source", "language", "chunks", "source_path", "indexed_at"):
            print(f"{key}: {doc[key] if doc[key] is not None else '-'}")
        print()
        print(doc["text"])
    return EXIT_OK


def cmd_versions(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import open_pipeline

    cluster = open_pipeline(settings).versions(args.doc_id)
    if cluster is None:
        raise CommandError(f"no document with id '{args.doc_id}' (see `dispatch-qa list`)")
    if args.json:
        print_json(cluster)
    else:
        for d in cluster["versions"]:
            mark = "*" if d["doc_id"] == args.doc_id else " "
            print(f"{mark} {d['doc_id']}\t{d['date'] or '-'}\t{d['source'] or '-'}\t{d['title'] or ''}")
        n = len(cluster["versions"])
        print(f"cluster {cluster['cluster_id']}: {n} version{'s' if n > 1 else ''}, newest first", file=sys.stderr)
    return EXIT_OK


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import open_pipeline

    removed = open_pipeline(settings).remove(args.doc_id)
    if not removed:
        raise CommandError(f"no document with id '{args.doc_id}' (see `dispatch-qa list`)")
    if args.json:
        print_json({"removed": args.doc_id})
    else:
        print(f"removed {args.doc_id}")
    return EXIT_OK


def cmd_roots(args: argparse.Namespace, settings: Settings) -> int:
    from assistant.pipeline import open_pipeline

    pipeline = open_pipeline(settings)
    if args.forget:
        removed = pipeline.forget_root(args.forget)
        if removed is None:
            raise CommandError(f"{args.forget} is not an indexed root (see `dispatch-qa roots`)")
        if args.json:
            print_json({"forgotten": args.forget, "removed": removed})
        else:
            print(f"forgot {args.forget}: {len(removed)} documents removed from the index")
        return EXIT_OK
    roots = pipeline.roots()
    if args.json:
        print_json({"roots": roots})
    else:
        for r in roots:
            print(f"{r['path']}\t{r['documents']} documents" + (f"\t({r['problem']})" if r["problem"] else ""))
        print(f"{len(roots)} roots", file=sys.stderr)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from ui.app import serve  # the one door back: Gradio loads only for this command

    return serve(settings, seed=not args.no_seed)


# -- plumbing ----------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    """The one top-level handler: every failure is one line on stderr (and, with --json, one
    `{"error": ...}` object on stdout); a traceback, when there is one, goes to stderr only."""
    from assistant.environment import quiet_environment

    quiet_environment()
    argv = sys.argv[1:] if argv is None else argv
    want_json = "--json" in argv
    try:
        args = build_parser().parse_args(argv)
        want_json = getattr(args, "json", want_json)
        settings = settings_from_args(args)
        return args.handler(args, settings)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        if want_json:
            print_json({"error": "interrupted"})
        return EXIT_ERROR
    except UsageError as exc:
        build_parser().print_usage(sys.stderr)
        print(exc, file=sys.stderr)
        if want_json:
            print_json({"error": str(exc)})
        return EXIT_USAGE
    except DispatchQAError as exc:
        return _fail(str(exc), want_json)
    except Exception as exc:  # noqa: BLE001 - a bug: its traceback on stderr, never on stdout
        import traceback

        traceback.print_exc(file=sys.stderr)
        return _fail(f"unexpected error: {type(exc).__name__}: {exc}", want_json)


def _fail(message: str, want_json: bool) -> int:
    print(f"error: {message}", file=sys.stderr)
    if want_json:
        print_json({"error": message})
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())

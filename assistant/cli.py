"""``python -m assistant ask|search "…" [--json] [--since … --until … --category … --source …]``:
the engine from a shell."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import TYPE_CHECKING

from assistant.core.settings import MAX_PAPERS, Settings

if TYPE_CHECKING:
    from assistant.filters import SearchFilters


def paper_count(text: str) -> int:
    """An argparse type: a whole number of papers from 1 to 50."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_PAPERS:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_PAPERS}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="answer a question, citing paper titles")
    ask.add_argument("question")
    ask.add_argument(
        "--top-k", type=paper_count, help="papers retrieved, 1-50 (default: ASSISTANT_TOP_K)"
    )
    ask.add_argument("--llm", choices=["extractive", "openai", "openai-compatible"])
    ask.add_argument("--no-stream", action="store_true", help="print the answer at the end")
    search = sub.add_parser("search", help="list the best-matching papers")
    search.add_argument("query")
    search.add_argument(
        "-k", type=paper_count, default=10, help="number of papers, 1-50 (default 10)"
    )
    for command in (ask, search):
        command.add_argument("--json", action="store_true", help="machine-readable output")
        limits = command.add_argument_group(
            "filters", "limit the papers searched (a paper with no known date fails a date filter)"
        )
        limits.add_argument("--since", metavar="DATE", help="YYYY, YYYY-MM or YYYY-MM-DD")
        limits.add_argument("--until", metavar="DATE", help="inclusive to the end of the period")
        limits.add_argument(
            "--category",
            action="append",
            metavar="CAT",
            help='"cs.LG", or an archive such as "cs"; repeat for any of several',
        )
        limits.add_argument(
            "--source",
            action="append",
            metavar="FILE",
            help="a file the papers were ingested from; repeat for any of several",
        )
    return parser


def filters_of(args: argparse.Namespace) -> SearchFilters | None:
    """The filter flags as :class:`SearchFilters`; raises ``FilterError`` on a bad value."""
    from assistant.filters import SearchFilters

    return SearchFilters.coerce(
        {
            "since": args.since,
            "until": args.until,
            "categories": args.category or [],
            "sources": args.source or [],
        }
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    from pydantic import ValidationError

    from assistant.core.errors import AssistantError, first_problem

    # The settings, the question and the filters are checked before the engine's libraries
    # (chromadb, llama-index, the model) are imported: a mistyped command fails in a blink.
    try:
        settings, filters = checked_request(args)
    except AssistantError as error:  # a bad question, filter or setting: one line
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:  # a bad ASSISTANT_* setting
        where, problem = first_problem(error)
        print(f"error: setting {where}: {problem}", file=sys.stderr)
        return 2

    from assistant.core.store import STORE_FAILURES, failure_line

    try:
        return answer(args, settings, filters)
    except AssistantError as error:  # the store or the engine refusing: one line
        print(f"error: {error}", file=sys.stderr)
        return 2
    except STORE_FAILURES as error:  # Chroma failing mid-use: one line, not a traceback
        print(f"error: {failure_line(settings, error)}", file=sys.stderr)
        return 2


def checked_request(args: argparse.Namespace) -> tuple[Settings, SearchFilters | None]:
    """The settings and filters the command asks for, its question checked; raises
    ``AssistantError`` or pydantic's ``ValidationError`` on anything that cannot be run."""
    from assistant.core.errors import AssistantError
    from assistant.questions import clean_question

    overrides = {}
    if getattr(args, "top_k", None):
        overrides["top_k"] = args.top_k
    if getattr(args, "llm", None):
        overrides["llm"] = args.llm
    settings = Settings(**overrides)
    question = args.query if args.command == "search" else args.question
    clean_question(question, settings.max_question_chars)
    if missing := settings.missing_index() or settings.missing_llm_key():
        raise AssistantError(missing)  # what the engine's start would refuse, said now
    return settings, filters_of(args)


def answer(args: argparse.Namespace, settings: Settings, filters: SearchFilters | None) -> int:
    """Run the search or the question on the engine and print the result."""
    from assistant.answer import TextPiece
    from assistant.engine import Assistant

    engine = Assistant.from_settings(settings)
    if args.command == "search":
        hits = engine.search(args.query, k=args.k, filters=filters)
        if args.json:
            print(json.dumps([hit.to_dict() for hit in hits], indent=2, ensure_ascii=False))
        else:
            for rank, hit in enumerate(hits, start=1):
                print(f"{rank:2d}. {hit.score:.3f}  {hit.title}")
            if not hits and filters is not None:
                print(f"no paper matches the filters ({filters.describe()})")
        return 0
    if args.json or args.no_stream:
        result = engine.ask(args.question, filters=filters)
        if args.json:
            print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        else:
            print(result.markdown)
        return 0
    final = None
    for event in engine.events(args.question, filters=filters):
        if isinstance(event, TextPiece):
            print(event.text, end="", flush=True)
        else:
            final = event.answer
    print()
    if final is not None and final.footer_markdown:
        print("\n" + final.footer_markdown)
    return 0

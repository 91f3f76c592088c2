"""``python -m assistant ask|search "…" [--json]``: the engine from a shell."""

from __future__ import annotations

import argparse
import json
import logging
import sys

from assistant.core.settings import Settings

MAX_PAPERS = 50  # as assistant.questions.MAX_PAPERS, checked here before anything loads


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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    from pydantic import ValidationError

    from assistant.core.embeddings import EmbeddingConfigError
    from assistant.core.store import StoreError
    from assistant.engine import Assistant
    from assistant.llm import LLMConfigError
    from assistant.questions import QuestionError, clean_question

    overrides = {}
    if getattr(args, "top_k", None):
        overrides["top_k"] = args.top_k
    if getattr(args, "llm", None):
        overrides["llm"] = args.llm
    try:
        settings = Settings(**overrides)
        question = args.query if args.command == "search" else args.question
        clean_question(question, settings.max_question_chars)  # before the model loads
        engine = Assistant.from_settings(settings)
        if args.command == "search":
            hits = engine.search(args.query, k=args.k)
            if args.json:
                print(json.dumps([hit.to_dict() for hit in hits], indent=2, ensure_ascii=False))
            else:
                for rank, hit in enumerate(hits, start=1):
                    print(f"{rank:2d}. {hit.score:.3f}  {hit.title}")
            return 0
        if args.json or args.no_stream:
            answer = engine.ask(args.question)
            if args.json:
                print(json.dumps(answer.to_dict(), indent=2, ensure_ascii=False))
            else:
                print(answer.markdown)
            return 0
        answer = None
        for part in engine.stream(args.question):
            if isinstance(part, str):
                print(part, end="", flush=True)
            else:
                answer = part
        print()
        if answer is not None and answer.footer_markdown:
            print("\n" + answer.footer_markdown)
        return 0
    except (StoreError, EmbeddingConfigError, LLMConfigError, QuestionError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:  # a bad ASSISTANT_* setting
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        print(f"error: setting {where}: {problem['msg']}", file=sys.stderr)
        return 2

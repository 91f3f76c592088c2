"""``python -m ingest [PATHS...]``: parse, embed and store papers, then print a summary."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from assistant.core.settings import Settings
from ingest import BUNDLED_PAPERS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Ingest paper listings (.txt), JSON/JSONL records or CSV files into Chroma. "
        "Re-running on unchanged input embeds nothing.",
    )
    parser.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help=f"files or directories to ingest (default: the bundled corpus, {BUNDLED_PAPERS})",
    )
    parser.add_argument("--rebuild", action="store_true", help="start the collection afresh")
    parser.add_argument("--chroma-path", type=Path, help="embedded store directory")
    parser.add_argument("--chroma-host", help="Chroma server host (uses the server)")
    parser.add_argument("--chroma-port", type=int, help="Chroma server port")
    parser.add_argument("--collection", help="collection name")
    parser.add_argument(
        "--quiet", action="store_true", help="print only the summary and errors (no progress)"
    )
    return parser


def settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {
        key: value
        for key, value in {
            "chroma_path": args.chroma_path,
            "chroma_host": args.chroma_host,
            "chroma_port": args.chroma_port,
            "collection": args.collection,
        }.items()
        if value is not None
    }
    return Settings(**overrides)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # --quiet: library warnings (e.g. llama-index's note on tiny BM25 corpora) are noise too.
    level = logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    from pydantic import ValidationError

    from assistant.core.embeddings import EmbeddingConfigError
    from assistant.core.store import StoreError
    from ingest.pipeline import NothingToIngest, ingest

    try:
        settings = settings_from_args(args)
        report = ingest(
            args.paths or [BUNDLED_PAPERS], settings, rebuild=args.rebuild, progress=not args.quiet
        )
    except NothingToIngest as failure:
        for problem in failure.problems:
            print(f"error: {problem}", file=sys.stderr)
        print("error: nothing was ingested; the store is unchanged", file=sys.stderr)
        return 1
    except (StoreError, EmbeddingConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ValidationError as error:  # a bad ASSISTANT_* setting
        problem = error.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        print(f"error: setting {where}: {problem['msg']}", file=sys.stderr)
        return 2
    for problem in report.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    for line in report.summary_lines():
        print(line)
    if report.problems:
        print(f"problems         {len(report.problems)} (listed above)")
    return 0

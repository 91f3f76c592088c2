"""``python -m ingest [PATHS...]``: parse, embed and store papers, then print a summary."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from assistant.core.errors import first_problem
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
    parser.add_argument(
        "--check",
        action="store_true",
        help="compare the store's metadata, vector index and BM25 index, one line per "
        "difference; ingest nothing (exit 0 clean, 1 differences)",
    )
    parser.add_argument(
        "--thorough",
        action="store_true",
        help="with --check: search every chunk by its own vector (a large store otherwise "
        "gets a random sample, and the report says how many)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="if another ingest is writing the embedded store, exit 3 at once instead of "
        "waiting for it",
    )
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


def waiting(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Exit codes: 0 done (or --check clean), 1 nothing ingested (or --check found
    differences), 2 store or settings unusable, 3 another ingest is writing (--no-wait)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.check and (args.paths or args.rebuild):
        parser.error("--check takes no paths and no --rebuild")
    if args.thorough and not args.check:
        parser.error("--thorough goes with --check")
    # --quiet: library warnings (e.g. llama-index's note on tiny BM25 corpora) are noise too.
    level = logging.ERROR if args.quiet else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(message)s")
    from pydantic import ValidationError

    from assistant.core.embeddings import EmbeddingConfigError
    from assistant.core.store import STORE_FAILURES, StoreError, failure_line
    from assistant.core.writer_lock import StoreBusy
    from ingest.pipeline import NothingToIngest, ingest

    wait = not args.no_wait
    try:
        settings = settings_from_args(args)
        if args.check:
            from ingest.check import SEARCH_ALL_UP_TO, check_store

            checked = check_store(
                settings,
                wait=wait,
                on_wait=waiting,
                search_all_up_to=None if args.thorough else SEARCH_ALL_UP_TO,
            )
            for line in checked.lines():
                print(line)
            return 0 if checked.clean else 1
        report = ingest(
            args.paths or [BUNDLED_PAPERS],
            settings,
            rebuild=args.rebuild,
            progress=not args.quiet,
            wait=wait,
            on_wait=waiting,
        )
    except StoreBusy as error:
        print(f"error: {error}", file=sys.stderr)
        return 3
    except NothingToIngest as failure:
        for problem in failure.problems:
            print(f"error: {problem}", file=sys.stderr)
        print("error: nothing was ingested; the store is unchanged", file=sys.stderr)
        return 1
    except (StoreError, EmbeddingConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except STORE_FAILURES as error:  # Chroma failing mid-use: one line, not a traceback
        print(f"error: {failure_line(settings, error)}", file=sys.stderr)
        return 2
    except ValidationError as error:  # a bad ASSISTANT_* setting
        where, problem = first_problem(error)
        print(f"error: setting {where}: {problem}", file=sys.stderr)
        return 2
    for problem in report.problems:
        print(f"skipped: {problem}", file=sys.stderr)
    for line in report.summary_lines():
        print(line)
    if report.problems:
        print(f"problems         {len(report.problems)} (listed above)")
    return 0

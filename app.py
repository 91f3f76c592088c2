"""Start the web chat: ``python app.py`` (binds 127.0.0.1:7860 unless configured otherwise).

This is where the pieces meet: the settings, the engine, the first-start ingest and the UI.
On first start with an empty index it ingests the bundled corpus (progress in the console,
a status line in the page), then serves.

Imports are ordered for a fast start: a configuration that must not be served is refused
(one line, exit status 2) before anything heavy is imported; the engine's modules are
imported by its build, in the background, while the server already answers; Gradio comes
last (see :func:`assistant.web.server.launch`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from pydantic import ValidationError  # noqa: E402

from assistant.core.settings import Settings  # noqa: E402
from assistant.web.exposure import LaunchRefused, check_exposure  # noqa: E402

if TYPE_CHECKING:
    from assistant.engine import Assistant


def bundled_ingest_needed(settings: Settings) -> str | None:
    """Why the bundled corpus must be ingested before serving, or None.

    An empty store gets it on a first start; a store where the app's own first-start ingest
    was interrupted (the recorded unfinished ingest is the bundled corpus) gets it resumed,
    since serving it would answer from part of the corpus. Any other store is left as is.
    """
    from assistant.core.store import EmptyStoreError, PaperStore
    from ingest import BUNDLED_PAPERS
    from ingest.pipeline import ingest_label

    try:
        store = PaperStore.open(settings, None)
    except EmptyStoreError:
        return "Indexing the bundled corpus for the first time…"
    if ingest_label([BUNDLED_PAPERS]) in store.unfinished_ingests():
        return "Resuming the interrupted indexing of the bundled corpus…"
    return None


def start_engine(settings: Settings, report: Callable[[str], None]) -> Assistant:
    """The engine on the configured store, ingesting the bundled corpus into an empty one
    (or finishing that ingest when a previous start was stopped during it). Runs in the
    engine's thread, which imports its modules here."""
    from assistant.engine import Assistant
    from ingest import BUNDLED_PAPERS
    from ingest.pipeline import ingest

    reason = bundled_ingest_needed(settings)
    if reason is None:
        return Assistant.from_settings(settings)
    report(reason)

    def progress(done: int, total: int) -> None:
        report(f"Indexing the bundled corpus: {done}/{total} chunks embedded…")

    summary = ingest([BUNDLED_PAPERS], settings, progress=True, on_batch=progress, on_wait=report)
    for line in summary.summary_lines():
        print(line)
    return Assistant.from_settings(settings)


def main() -> int:
    """Serve until stopped; a configuration that cannot or must not be served is one line
    on stderr and exit status 2, before anything starts."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings()
    except ValidationError as error:  # named as the user set it: ASSISTANT_PORT, …
        problems = "; ".join(f"{_variable(e['loc'])}: {e['msg']}" for e in error.errors())
        print(f"error: invalid setting: {problems}", file=sys.stderr)
        return 2
    try:
        check_exposure(settings)  # here too, so a refusal imports nothing heavy
        from assistant.web.server import launch

        launch(settings, lambda report: start_engine(settings, report))
    except LaunchRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _variable(loc: tuple) -> str:
    name = str(loc[0]) if loc else "?"
    return name if name.isupper() else f"ASSISTANT_{name.upper()}"


if __name__ == "__main__":
    raise SystemExit(main())

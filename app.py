"""Start the web chat: ``python app.py`` (binds 127.0.0.1:7860 unless configured otherwise).

This is where the pieces meet: the settings, the engine, the first-start ingest and the UI.
On first start with an empty index it ingests the bundled corpus (progress in the console,
a status line in the page), then serves.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from assistant.core.settings import Settings  # noqa: E402
from assistant.core.store import EmptyStoreError  # noqa: E402
from assistant.engine import Assistant  # noqa: E402
from assistant.ui import launch  # noqa: E402
from ingest import BUNDLED_PAPERS  # noqa: E402
from ingest.pipeline import ingest  # noqa: E402


def start_engine(settings: Settings, report: Callable[[str], None]) -> Assistant:
    """The engine on the configured store, ingesting the bundled corpus into an empty one."""
    try:
        return Assistant.from_settings(settings)
    except EmptyStoreError:
        report("Indexing the bundled corpus for the first time…")

    def progress(done: int, total: int) -> None:
        report(f"Indexing the bundled corpus: {done}/{total} chunks embedded…")

    summary = ingest([BUNDLED_PAPERS], settings, progress=True, on_batch=progress, on_wait=report)
    for line in summary.summary_lines():
        print(line)
    return Assistant.from_settings(settings)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    launch(settings, lambda report: start_engine(settings, report))


if __name__ == "__main__":
    main()

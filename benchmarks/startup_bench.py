"""App start-up with an existing index: seconds until the page is served and until it answers.

python benchmarks/startup_bench.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from common import summary_ms  # noqa: F401  (sets up sys.path and offline mode)

from assistant.core.settings import Settings
from devtools.app_process import AppProcess
from ingest import BUNDLED_PAPERS
from ingest.pipeline import ingest


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        settings = Settings(
            _env_file=None, chroma_path=tmp_path / "chroma", cache_dir=tmp_path / "cache"
        )
        ingest([BUNDLED_PAPERS], settings, progress=False)
        for attempt in range(3):
            began = time.perf_counter()
            with AppProcess(
                tmp_path / f"run{attempt}",
                chroma_path=settings.chroma_path,
                cache_dir=settings.cache_dir,
            ) as app:
                served = time.perf_counter() - began
                app.wait_until_ready()
                ready = time.perf_counter() - began
            print(
                f"run {attempt + 1}: page served after {served:.1f} s, answering after {ready:.1f} s"
            )


if __name__ == "__main__":
    main()

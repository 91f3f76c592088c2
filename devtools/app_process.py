"""Run ``python app.py`` as a real subprocess on 127.0.0.1 for tests and the load script
(started through :mod:`devtools.prefork`: a fork of a process that imported the app's
modules once, unless that is turned off)."""

from __future__ import annotations

import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from devtools.chroma_server import free_port, stop_process
from devtools.prefork import start_python

ROOT = Path(__file__).resolve().parent.parent

# ``python app.py`` with the bundled corpus's location replaced by argv[1]: a first start
# then ingests that corpus through the app's own code (tests of the first-start ingest need
# some papers, not all 348).
APP_WITH_CORPUS = """
import runpy, sys
from pathlib import Path
import ingest
ingest.BUNDLED_PAPERS = Path(sys.argv[1]).resolve()
sys.argv = [sys.argv[2]]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


class AppProcess:
    """The web app with the given ``ASSISTANT_*`` settings; waits until it serves its page
    (``/v1`` and ``/health`` answer earlier, while the page still says "starting").

    ``corpus``: what a first start ingests in place of the bundled corpus (a file or folder).
    """

    def __init__(self, workdir: Path, corpus: Path | None = None, **settings: str):
        self.workdir = Path(workdir)
        self.corpus = corpus
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ASSISTANT_")}
        self.env.update(
            ASSISTANT_PORT=str(self.port),
            HF_HUB_OFFLINE="1",
            GRADIO_ANALYTICS_ENABLED="False",
            **{f"ASSISTANT_{k.upper()}": str(v) for k, v in settings.items()},
        )
        self.log_path = self.workdir / f"app-{self.port}.log"

    @classmethod
    def on_store(cls, workdir: Path, settings: Any, **options: Any) -> AppProcess:
        """The app on the embedded store of ``settings`` (its Chroma folder and BM25 cache),
        plus any other ``ASSISTANT_*`` options."""
        return cls(
            workdir, chroma_path=settings.chroma_path, cache_dir=settings.cache_dir, **options
        )

    def __enter__(self) -> AppProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = start_python(
            self.command()[1:], cwd=ROOT, env=self.env, stdout=self.log_path
        )
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("app exited: " + self.log_path.read_text()[-3000:])
            try:
                urllib.request.urlopen(self.url, timeout=2)
                return self
            except urllib.error.HTTPError as error:
                if error.code != 503:  # 503: the page is still being built
                    return self  # it answers (e.g. 401 behind a login)
                time.sleep(0.2)
            except OSError:
                time.sleep(0.2)
        self.__exit__()
        raise RuntimeError("app did not start: " + self.log_path.read_text()[-3000:])

    def command(self) -> list[str]:
        """``python app.py``, or the same through :data:`APP_WITH_CORPUS`."""
        if self.corpus is None:
            return [sys.executable, "app.py"]
        return [sys.executable, "-c", APP_WITH_CORPUS, str(self.corpus), "app.py"]

    def client(self, **kwargs):
        from gradio_client import Client

        return Client(self.url, verbose=False, **kwargs)

    def wait_until_ready(self, client=None, timeout: float = 300) -> None:
        """The engine loads (or ingests) in the background; wait until it answers (a call
        waits up to the app's ``ready_wait_seconds``, then fails with "not ready yet")."""
        from gradio_client.exceptions import AppError

        client = client or self.client()
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                client.predict("binary neural networks", 1, api_name="/search")
                return
            except AppError as error:
                if "not ready yet" not in str(error):
                    raise
            time.sleep(1)
        raise RuntimeError("engine never became ready")

    @property
    def log(self) -> str:
        return self.log_path.read_text()

    def __exit__(self, *exc: object) -> None:
        stop_process(self.process, grace=30)

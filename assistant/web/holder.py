"""The engine behind the web app: built once in the background, then kept in step with
the store, with a status line the page shows while it starts."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from assistant.core.settings import Settings
from assistant.engine import Assistant
from assistant.follower import StoreFollower

log = logging.getLogger(__name__)

# Builds the engine; may take minutes (a first-start ingest) and reports progress lines.
EngineStarter = Callable[[Callable[[str], None]], Assistant]


class EngineHolder:
    """Builds the engine once, in the background, says how far it got, and then keeps it in
    step with the store (:class:`StoreFollower`): new ingests are answered, and the status
    line counts them, without a restart."""

    def __init__(self, settings: Settings, starter: EngineStarter):
        self.settings = settings
        self.starter = starter
        self.follower: StoreFollower | None = None
        self.status = "Starting…"
        self.error: str | None = None

    @property
    def engine(self) -> Assistant | None:
        """The current engine (None until started); read it once per request."""
        return self.follower.engine if self.follower else None

    def start(self, background: bool = True) -> None:
        if background:
            threading.Thread(target=self._build, daemon=True, name="engine-start").start()
        else:
            self._build()

    def _report(self, line: str) -> None:
        self.status = line

    def _build(self) -> None:
        try:
            engine = self.starter(self._report)
            self._show(engine)
            self.follower = StoreFollower(
                engine, self.settings.refresh_seconds, on_reload=self._show
            ).start()
        except Exception as error:  # shown in the page, never as a traceback
            log.exception("engine start failed")
            self.error = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.status = f"⚠️ {self.error}"

    def _show(self, engine: Assistant) -> None:
        stats = engine.stats()
        self.status = (
            f"{stats['papers']} papers · {stats['chunks']} chunks · answers: {stats['backend']}"
            + (f" ({stats['model']})" if stats["model"] else "")
            + f" · embeddings: {stats['embedding']}"
        )

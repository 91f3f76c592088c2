"""The engine behind the web app: built once in the background, then kept in step with
the store, with a status line the page shows while it starts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from assistant.core.settings import Settings
from assistant.web.doors import WorkSlots

if TYPE_CHECKING:  # the engine's modules are imported by the build, in its thread
    from assistant.engine import Assistant
    from assistant.follower import StoreFollower

log = logging.getLogger(__name__)

# Builds the engine; may take minutes (a first-start ingest) and reports progress lines.
EngineStarter = Callable[[Callable[[str], None]], "Assistant"]
# How long a store probe's answer stands (one count read; requests within share it).
STORE_PROBE_SECONDS = 1.0


class EngineUnavailable(RuntimeError):
    """No engine to answer with: still starting after the wait (``retryable``), or its start
    failed (fix the configuration and restart). The message is one line for the client."""

    def __init__(self, message: str, *, retryable: bool):
        super().__init__(message)
        self.retryable = retryable


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
        self._settled = threading.Event()  # set once the engine is built or failed
        self._reported = threading.Event()  # set by the first progress line (an ingest)
        # Every answering call, from the page or /v1, holds one of these while it works.
        self.slots = WorkSlots(settings.concurrency_limit)
        self._probe_lock = threading.Lock()
        self._probed_at = float("-inf")
        self._store_problem: str | None = None

    @property
    def engine(self) -> Assistant | None:
        """The current engine (None until started); read it once per request."""
        return self.follower.engine if self.follower else None

    def ready(self, wait: float | None = None) -> Assistant:
        """The engine, waiting up to ``wait`` seconds (default ``ready_wait_seconds``) while it
        starts; :class:`EngineUnavailable` when there is none to answer with.

        API calls made during a first-start ingest wait here rather than getting a status
        line as if it were an answer.
        """
        wait = self.settings.ready_wait_seconds if wait is None else wait
        self._settled.wait(timeout=wait)
        engine = self.engine
        if engine is not None:
            problem = self.store_problem()
            if problem is not None:
                raise EngineUnavailable(
                    f"the paper store cannot answer right now, try again shortly: {problem}",
                    retryable=True,
                )
            return engine
        if self.error is not None:
            raise EngineUnavailable(f"the assistant cannot answer: {self.error}", retryable=False)
        raise EngineUnavailable(
            f"the assistant is not ready yet ({self.status.rstrip('…. ')}); "
            f"still starting after {wait:g} s, try again shortly",
            retryable=True,
        )

    def store_problem(self) -> str | None:
        """Why the engine's store cannot answer now (a Chroma server down, a damaged file),
        or None. Probed with one small read, at most every ``STORE_PROBE_SECONDS``, so a
        request during an outage gets a clear retryable refusal instead of a traceback.
        The outage is logged once when it starts and once when it ends; answering resumes
        by itself (the engine's store client reconnects)."""
        engine = self.engine
        if engine is None or engine.store is None:
            return None
        with self._probe_lock:
            now = time.monotonic()
            if now - self._probed_at < STORE_PROBE_SECONDS:
                return self._store_problem
            self._probed_at = now
            try:
                engine.store.probe()
                problem = None
            except Exception as error:  # StoreError, or whatever the client raised
                problem = str(error).splitlines()[0] if str(error) else type(error).__name__
            if problem is not None and self._store_problem is None:
                log.warning("the paper store cannot answer: %s", problem)
            elif problem is None and self._store_problem is not None:
                log.warning("the paper store answers again")
            self._store_problem = problem
            return problem

    def settled_or_busy(self, wait: float) -> bool:
        """Wait up to ``wait`` seconds until the engine is built, or failed, or its start
        reports progress (a first-start ingest, which takes minutes); whether it did."""
        return self._reported.wait(timeout=wait)

    def start(self, background: bool = True) -> None:
        if background:
            threading.Thread(target=self._build, daemon=True, name="engine-start").start()
        else:
            self._build()

    def _report(self, line: str) -> None:
        self.status = line
        self._reported.set()

    def _build(self) -> None:
        try:
            from assistant.follower import StoreFollower
            from assistant.text.sentences import load_punkt

            engine = self.starter(self._report)
            load_punkt()  # before the first answer, which splits abstracts into sentences
            self._show(engine)
            self.follower = StoreFollower(
                engine, self.settings.refresh_seconds, on_reload=self._show
            ).start()
        except Exception as error:  # shown in the page, never as a traceback
            log.exception("engine start failed")
            self.error = str(error).splitlines()[0] if str(error) else type(error).__name__
            self.status = f"⚠️ {self.error}"
        finally:
            self._settled.set()
            self._reported.set()

    def _show(self, engine: Assistant) -> None:
        self.status = self.describe(engine.stats())

    @staticmethod
    def describe(stats: dict[str, Any]) -> str:
        """The status line of a ready engine, from its ``stats()``. ``/health`` builds it
        from the stats it reports: ``status`` is set just after a reload swaps the engine,
        and a line read apart from the engine could count the previous revision's papers."""
        return (
            f"{stats['papers']} papers · {stats['chunks']} chunks · answers: {stats['backend']}"
            + (f" ({stats['model']})" if stats["model"] else "")
            + f" · embeddings: {stats['embedding']}"
        )

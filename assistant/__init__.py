"""Research-paper chat assistant: hybrid retrieval over paper abstracts, cited answers.

>>> from assistant import Assistant
>>> a = Assistant.from_settings()
>>> a.ask("Which work reaches 77.4% mIoU at 102 FPS?").citations
"""

from assistant.answer import Answer, Citation
from assistant.retrieval import PaperHit

__all__ = ["Assistant", "Answer", "Citation", "PaperHit", "Settings"]


def __getattr__(name: str):  # heavy imports (torch, chromadb) only when used
    if name == "Assistant":
        from assistant.engine import Assistant

        return Assistant
    if name == "Settings":
        from assistant.settings import Settings

        return Settings
    raise AttributeError(name)
